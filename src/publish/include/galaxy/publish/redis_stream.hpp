// The Redis side of delivery: idempotent XADD of outbox rows through a Lua script, pipelined,
// over one redis::Connection (every call bounded). Not thread-safe: the relay thread owns it.
//
// Dedupe (Redis 7.0 has no XADD IDMP), per host: beside the stream, `{<stream>}:hwm:<host>` (a
// hash: db, seq, lease, id) holds the host's last seq added and `{<stream>}:idmp:<host>` (a ZSET,
// score seq, member entry ID) the window of its seqs not yet confirmed in PostgreSQL. A seq at or
// below the high-water mark is not added again; its entry ID comes from the window. `db`
// identifies the database the seqs come from, so a recreated database (seq restarting at 1) is
// not mistaken for replays; `lease` is the highest lease epoch that wrote, and a lower one is
// refused (FENCED). The braces put the side keys in the stream's Redis Cluster slot.
//
// A caller outside DurableSink's threads (which block it) must block or ignore SIGPIPE: see
// galaxy/redis/connection.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "galaxy/common/redis_url.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/contract/codec.hpp"
#include "galaxy/publish/backends.hpp"
#include "galaxy/redis/connection.hpp"

namespace galaxy::publish {

struct StreamSettings {
  std::string stream = "runtime:health_events";
  // XADD MAXLEN ~ this: retention by count, so memory is bounded whatever the event rate. At
  // ~250 bytes an entry the default is ~250 MB of Redis memory.
  std::size_t maxlen = 1'000'000;
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds io_timeout{5'000};
  // After each batch, WAIT wait_replicas wait_timeout: a batch fewer replicas acknowledged fails
  // with is_wait_shortfall() and its rows are not confirmed. With Sentinel this is what makes a
  // failover lose nothing: an XADD the master answered may not have reached the replica that is
  // promoted. 0: no WAIT.
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{1'000};
};

// The script's source, exposed for tests and docs/delivery.md.
extern const char* const kXaddScript;

class RedisStream final : public StreamAppender {
 public:
  RedisStream(RedisEndpoint endpoint, StreamSettings settings, HostFence fence);
  ~RedisStream() override;

  // Connects, AUTHs, SELECTs and loads the script.
  Result<void> connect() override;
  bool connected() const override { return conn_ && !conn_->broken(); }
  void disconnect() override;

  // Adds the items in order, all in flight at once. `confirmed` is the highest seq PostgreSQL
  // has confirmed relayed (the dedupe window is trimmed below it). On NOSCRIPT (a restarted or
  // flushed Redis) the script is loaded again and the whole batch resent: it is idempotent.
  Result<std::vector<XaddResult>> publish(const std::string& database_id, std::int64_t confirmed,
                                          const std::vector<XaddItem>& items) override;
  Result<std::int64_t> adopt_legacy_hwm(const std::string& database_id) override;
  Result<std::int64_t> high_water(const std::string& database_id) override;

  const std::string& stream() const { return settings_.stream; }
  // The host's side keys.
  std::string hwm_key() const;
  std::string idmp_key() const;

 private:
  Result<void> load_script();
  Result<void> wait_for_replicas();

  RedisEndpoint endpoint_;
  StreamSettings settings_;
  HostFence fence_;
  std::string sha_;
  std::optional<redis::Connection> conn_;
};

}  // namespace galaxy::publish
