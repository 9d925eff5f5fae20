// The PostgreSQL side of delivery over one pg::Conn (not thread-safe: the writer and the relay
// each own one). Every call has a deadline: connect_timeout for connecting, and io_timeout for
// each round trip, plus the server's statement_timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "galaxy/common/result.hpp"
#include "galaxy/contract/event.hpp"
#include "galaxy/contract/sink.hpp"
#include "galaxy/pg/conn.hpp"
#include "galaxy/pg/target.hpp"
#include "galaxy/publish/backends.hpp"
#include "galaxy/publish/transition_queue.hpp"

namespace galaxy::publish {

// Applies the pending schema migrations (src/publish/migrations) in one transaction under an
// advisory lock, so daemons starting together are safe.
Result<void> apply_migrations(pg::Conn& conn);

// A connection with the schema migrated: what every PostgreSQL user of the daemon starts from
// (the outbox, the lease, the runtime records), since any of them may be the first to reach a
// new database.
Result<pg::Conn> open_migrated(const pg::Target& target, std::chrono::milliseconds io_timeout);

// One host's outbox (fence.host_id), written and confirmed under fence.epoch.
class PgOutbox final : public OutboxStore {
 public:
  PgOutbox(pg::Target target, std::chrono::milliseconds io_timeout, HostFence fence);
  ~PgOutbox() override;

  // Connects and applies the pending migrations.
  Result<void> connect() override;
  bool connected() const override;
  void disconnect() override;

  // Writer: the batch's events into the outbox and its state records into runtime_state, in one
  // transaction sent as one libpq pipeline, under the fence (galaxy_take_seq). A batch already
  // committed by this writer_id (its COMMIT reply was lost) is recognised and not stored twice.
  Result<void> commit(const Batch& batch, const std::string& writer_id) override;
  Result<std::vector<contract::StateRecord>> load_state() override;

  // Relay: each host's rows are relayed by the daemon holding its lease (or one that adopted a
  // host gone for good), so no relay waits on another's.
  Result<std::string> database_id() override;
  Result<std::vector<OutboxRow>> fetch(std::size_t limit) override;
  Result<std::optional<std::int64_t>> legacy_seq() override;
  Result<void> legacy_done() override;
  Result<std::int64_t> seq_at_least(std::int64_t mark) override;
  // Upserts the snapshots (never back to an older event) and deletes the relayed outbox rows, in
  // one fenced transaction: every outbox row of the host up to through_seq (rows fetched from the
  // start of the outbox, so none are skipped; rows may leave out one that could not be decoded).
  Result<void> confirm(const std::vector<RelayedRow>& rows, std::int64_t through_seq) override;

  // Counts, for tests and the daemon's stats.
  Result<std::int64_t> outbox_size();

 private:
  Result<pg::Rows> single(const pg::Query& q);

  pg::Target target_;
  std::chrono::milliseconds io_timeout_;
  HostFence fence_;
  std::optional<pg::Conn> conn_;
};

}  // namespace galaxy::publish
