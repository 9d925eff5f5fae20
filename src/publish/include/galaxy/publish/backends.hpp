// The durable sink's I/O seams: the PostgreSQL outbox (PgOutbox is the real one) and the Redis
// Stream appender (RedisStream), so the writer's and relay's retry, overflow, resync and stop
// rules are unit-tested with fakes (tests/publish/durable_sink_test.cpp) and the real servers
// only in the itests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/common/result.hpp"
#include "galaxy/contract/codec.hpp"
#include "galaxy/contract/event.hpp"
#include "galaxy/contract/sink.hpp"
#include "galaxy/publish/transition_queue.hpp"

namespace galaxy {
class Clock;
}

namespace galaxy::publish {

// Whose rows a store or an appender handles, and under which lease of that host. Every write
// carries it; PostgreSQL (galaxy_fence) and the Redis script refuse an epoch older than the
// host's current one, so a daemon that lost its lease (frozen, partitioned) writes nothing.
struct HostFence {
  std::string host_id;
  std::int64_t epoch = 0;
};

// A write refused because the lease epoch it carried is no longer the host's (PostgreSQL's
// SQLSTATE GXL01, the Redis script's FENCED): the daemon must step down, not retry.
inline constexpr std::string_view kFencedPgCode = "GXL01";
inline constexpr std::string_view kFencedRedisCode = "FENCED";
inline bool is_fenced(const Error& e) {
  return e.kind == ErrorKind::server && (e.code == kFencedPgCode || e.code == kFencedRedisCode);
}

// A batch that the master added but fewer replicas than asked acknowledged within the WAIT
// timeout: retried, not a broken connection.
inline constexpr std::string_view kWaitShortCode = "WAIT";
inline bool is_wait_shortfall(const Error& e) {
  return e.kind == ErrorKind::server && e.code == kWaitShortCode;
}

struct OutboxRow {
  std::int64_t seq = 0;
  std::string payload;  // canonical payload JSON
};

// An outbox row that is now in the stream under stream_id.
struct RelayedRow {
  std::int64_t seq = 0;
  contract::Event event;
  std::string stream_id;
};

struct XaddItem {
  std::int64_t seq = 0;
  contract::EntryFields fields;
};

struct XaddResult {
  std::int64_t seq = 0;
  std::string id;      // the entry's stream ID ("" if it was added long ago and left the window)
  bool added = false;  // false: a replay, nothing was added
};

// One connection's worth of one host's outbox (the host of its HostFence). Not thread-safe: each
// thread owns one.
class OutboxStore {
 public:
  OutboxStore() = default;
  OutboxStore(const OutboxStore&) = delete;
  OutboxStore& operator=(const OutboxStore&) = delete;
  virtual ~OutboxStore() = default;

  // Connects and applies the pending migrations.
  virtual Result<void> connect() = 0;
  virtual bool connected() const = 0;
  virtual void disconnect() = 0;

  // Writer: the batch's events into the outbox and its state records, in one transaction. A
  // batch this writer_id committed already (its COMMIT reply was lost) is not stored twice. A
  // fenced epoch fails with is_fenced().
  virtual Result<void> commit(const Batch& batch, const std::string& writer_id) = 0;
  // The host's state records.
  virtual Result<std::vector<contract::StateRecord>> load_state() = 0;

  // Relay: the database's identity (a recreated database starts seq again at 1); the host's
  // oldest rows; and, in one transaction (fenced), the snapshots of the rows relayed and the
  // deletion of every row up to through_seq.
  virtual Result<std::string> database_id() = 0;
  virtual Result<std::vector<OutboxRow>> fetch(std::size_t limit) = 0;
  virtual Result<void> confirm(const std::vector<RelayedRow>& rows, std::int64_t through_seq) = 0;
  // Raises the host's seq counter to at least `mark` (fenced) and returns what it was. The
  // counter is below the stream's mark only when the database lost commits it had acknowledged
  // (an asynchronous standby promoted): new rows must not take seqs the stream already holds, or
  // they would be taken for replays and never added.
  virtual Result<std::int64_t> seq_at_least(std::int64_t mark) = 0;
  // Upgrade: the highest seq of rows written before the fleet release that this host adopted,
  // while their Redis high-water mark has not been carried over yet (nullopt: nothing to do);
  // legacy_done() records that it has been.
  virtual Result<std::optional<std::int64_t>> legacy_seq() = 0;
  virtual Result<void> legacy_done() = 0;
};

// Idempotent appends to the stream. Not thread-safe: the relay owns it.
class StreamAppender {
 public:
  StreamAppender() = default;
  StreamAppender(const StreamAppender&) = delete;
  StreamAppender& operator=(const StreamAppender&) = delete;
  virtual ~StreamAppender() = default;

  virtual Result<void> connect() = 0;
  virtual bool connected() const = 0;
  virtual void disconnect() = 0;
  // Adds the items in order; a seq at or below the host's high-water mark for this database is a
  // replay and is not added again. `confirmed` is the highest seq PostgreSQL has confirmed. A
  // fenced epoch fails with is_fenced() and adds nothing; too few replicas acknowledging the batch
  // (when asked for) fails with is_wait_shortfall().
  virtual Result<std::vector<XaddResult>> publish(const std::string& database_id,
                                                  std::int64_t confirmed,
                                                  const std::vector<XaddItem>& items) = 0;
  // Upgrade: raises the host's high-water mark to the pre-fleet one (one for the whole database,
  // under the old key names) when that one belongs to this database, so no adopted row is added
  // twice. Returns the mark now in force for the host.
  virtual Result<std::int64_t> adopt_legacy_hwm(const std::string& database_id) = 0;
  // The host's high-water mark for this database (0 when the stream has none).
  virtual Result<std::int64_t> high_water(const std::string& database_id) = 0;
};

// What a DurableSink is built on. The defaults (DurableSink(settings)) are PgOutbox, RedisStream
// and the system clock.
struct DurableBackends {
  // Called once for the writer, once for the relay and once per load_state(), with the sink's
  // fence.
  std::function<std::unique_ptr<OutboxStore>(const HostFence&)> outbox;
  std::function<std::unique_ptr<StreamAppender>(const HostFence&)> stream;
  // Steady time for the stop deadline and the backoff waits. Must outlive the sink.
  const Clock* clock = nullptr;
  // [0, 1) for the backoff's jitter; empty: seeded from the system.
  std::function<double()> random;
};

}  // namespace galaxy::publish
