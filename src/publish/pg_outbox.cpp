#include "galaxy/publish/pg_outbox.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <map>
#include <set>

#include "galaxy/contract/codec.hpp"
#include "migrations.hpp"

namespace galaxy::publish {

using pg::Query;

namespace {

// Advisory lock key: an arbitrary constant, the same in every build ("gxy" + a purpose).
constexpr std::int64_t kMigrateLock = 0x6778790001;

std::int64_t to_i64(std::string_view s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

Error not_connected() {
  return make_error(ErrorKind::closed, "postgres", "not connected");
}

}  // namespace

Result<pg::Rows> PgOutbox::single(const Query& q) {
  if (!connected()) {
    return not_connected();
  }
  return conn_->query(q);
}

PgOutbox::PgOutbox(pg::Target target, std::chrono::milliseconds io_timeout, HostFence fence)
    : target_(std::move(target)), io_timeout_(io_timeout), fence_(std::move(fence)) {}

PgOutbox::~PgOutbox() = default;

bool PgOutbox::connected() const {
  return conn_ && conn_->ok();
}

void PgOutbox::disconnect() {
  conn_.reset();
}

Result<void> apply_migrations(pg::Conn& conn) {
  const auto dl = conn.deadline();
  const auto fail = [&](const Error& e) -> Result<void> {
    if (conn.ok()) {
      (void)conn.simple("ROLLBACK", conn.deadline());
    }
    return make_error(e.kind, e.path, "applying migrations: " + e.reason, e.code);
  };
  if (auto r = conn.simple("BEGIN", dl); !r) {
    return r.error();
  }
  auto setup = conn.pipeline(
      std::vector<Query>{
          {"SELECT pg_advisory_xact_lock($1::bigint)", {std::to_string(kMigrateLock)}},
          {"CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT "
           "NULL, applied_at timestamptz NOT NULL DEFAULT now())",
           {}},
          {"SELECT version FROM schema_migrations", {}}},
      dl);
  if (!setup) {
    return fail(setup.error());
  }
  std::set<std::int64_t> applied;
  const pg::Rows& versions = setup->back();
  for (int i = 0; i < versions.size(); ++i) {
    applied.insert(to_i64(versions.text(i, 0)));
  }
  for (const auto& m : migrations()) {
    const std::int64_t version = to_i64(std::string(m.name).c_str());
    if (applied.contains(version)) {
      continue;
    }
    if (auto r = conn.simple(m.sql, conn.deadline()); !r) {
      return fail(make_error(r.error().kind, r.error().path,
                             std::string(m.name) + ": " + r.error().reason, r.error().code));
    }
    auto rec = conn.query({"INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                           {std::to_string(version), std::string(m.name)}});
    if (!rec) {
      return fail(rec.error());
    }
  }
  if (auto r = conn.simple("COMMIT", conn.deadline()); !r) {
    return r.error();
  }
  return {};
}

Result<pg::Conn> open_migrated(const pg::Target& target, std::chrono::milliseconds io_timeout) {
  auto c = pg::Conn::open(target, io_timeout);
  if (!c) {
    return c.error();
  }
  if (auto r = apply_migrations(*c); !r) {
    return r.error();
  }
  return c;
}

Result<void> PgOutbox::connect() {
  conn_.reset();
  auto c = open_migrated(target_, io_timeout_);
  if (!c) {
    return c.error();
  }
  conn_.emplace(std::move(*c));
  return {};
}

Result<void> PgOutbox::commit(const Batch& batch, const std::string& writer_id) {
  if (!connected()) {
    return not_connected();
  }
  std::vector<Query> qs;
  qs.push_back({"BEGIN", {}});
  // A batch whose COMMIT reply was lost (connection dropped) may be committed already: the
  // writer row says so, and this guard then fails the transaction with division_by_zero instead
  // of storing the events twice. It travels in the same pipeline, so it costs no round trip.
  // (The subquery keeps the planner from folding the division at plan time.)
  qs.push_back(
      {"SELECT 1 / (CASE WHEN coalesce((SELECT last_batch FROM publish_writers "
       "WHERE writer_id = $1), 0) >= $2::bigint THEN 0 ELSE 1 END)",
       {writer_id, std::to_string(batch.number)}});
  const std::string host = fence_.host_id;
  const std::string epoch = std::to_string(fence_.epoch);
  if (batch.events.empty()) {
    qs.push_back({"SELECT galaxy_take_seq($1, $2::bigint, 0)", {host, epoch}});
  } else {
    boost::json::array rows;
    rows.reserve(batch.events.size());
    for (const auto& e : batch.events) {
      rows.push_back(boost::json::array{boost::json::string_view(e.game_id), e.occurred_at_ms,
                                        boost::json::string(contract::encode_payload(e))});
    }
    // The host's lease row is locked to COMMIT (and the epoch checked) by galaxy_take_seq, so
    // within a host seq order is commit order, and other hosts never wait on it.
    qs.push_back(
        {"WITH c AS (SELECT galaxy_take_seq($1, $2::bigint, $3::bigint) AS base) "
         "INSERT INTO health_outbox (host_id, seq, game_id, occurred_at_ms, payload) "
         "SELECT $1, c.base + e.ord, e.v->>0, (e.v->>1)::bigint, e.v->>2 "
         "FROM c, json_array_elements($4::json) WITH ORDINALITY AS e(v, ord)",
         {host, epoch, std::to_string(batch.events.size()), boost::json::serialize(rows)}});
  }
  boost::json::object upserts;
  boost::json::array deletes;
  for (const auto& [key, value] : batch.state) {
    if (value) {
      upserts[key] = *value;
    } else {
      deletes.emplace_back(boost::json::string_view(key));
    }
  }
  if (!upserts.empty()) {
    qs.push_back(
        {"INSERT INTO runtime_state (host_id, key, value) SELECT $1, e.k, e.v::jsonb "
         "FROM json_each_text($2::json) AS e(k, v) ON CONFLICT (host_id, key) DO UPDATE "
         "SET value = EXCLUDED.value, updated_at = now()",
         {host, boost::json::serialize(upserts)}});
  }
  if (!deletes.empty()) {
    qs.push_back(
        {"DELETE FROM runtime_state WHERE host_id = $1 AND key IN "
         "(SELECT json_array_elements_text($2::json))",
         {host, boost::json::serialize(deletes)}});
  }
  qs.push_back(
      {"INSERT INTO publish_writers (writer_id, last_batch) VALUES ($1, $2::bigint) "
       "ON CONFLICT (writer_id) DO UPDATE SET last_batch = EXCLUDED.last_batch, "
       "updated_at = now()",
       {writer_id, std::to_string(batch.number)}});
  qs.push_back({"COMMIT", {}});
  auto r = conn_->pipeline(qs);
  if (!r) {
    if (r.error().code == "22012") {  // division_by_zero: the guard fired
      return {};
    }
    return r.error();
  }
  return {};
}

Result<std::vector<contract::StateRecord>> PgOutbox::load_state() {
  auto r = single({"SELECT key, value::text FROM runtime_state WHERE host_id = $1 ORDER BY key",
                   {fence_.host_id}});
  if (!r) {
    return r.error();
  }
  std::vector<contract::StateRecord> out;
  out.reserve(static_cast<std::size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) {
    out.push_back({std::string(r->text(i, 0)), std::string(r->text(i, 1))});
  }
  return out;
}

Result<std::string> PgOutbox::database_id() {
  auto r = single({"SELECT epoch FROM publish_identity WHERE id = 1", {}});
  if (!r) {
    return r.error();
  }
  if (r->size() != 1) {
    return make_error(ErrorKind::protocol, "postgres", "publish_identity has no row");
  }
  return std::string(r->text(0, 0));
}

Result<std::optional<std::int64_t>> PgOutbox::legacy_seq() {
  auto r = single({"SELECT legacy_seq FROM host_leases WHERE host_id = $1", {fence_.host_id}});
  if (!r) {
    return r.error();
  }
  if (r->size() != 1 || r->null(0, 0)) {
    return std::optional<std::int64_t>{};
  }
  auto seq = r->integer(0, 0);
  if (!seq) {
    return seq.error();
  }
  return std::optional<std::int64_t>{*seq};
}

Result<void> PgOutbox::legacy_done() {
  auto r = single({"UPDATE host_leases SET legacy_seq = NULL WHERE host_id = $1 AND epoch = $2",
                   {fence_.host_id, std::to_string(fence_.epoch)}});
  if (!r) {
    return r.error();
  }
  return {};
}

Result<std::int64_t> PgOutbox::seq_at_least(std::int64_t mark) {
  // The row lock orders this with the writer's galaxy_take_seq: no seq is handed out twice.
  auto r =
      single({"WITH old AS (SELECT last_seq FROM host_leases WHERE host_id = $1 AND epoch = $2 "
              "FOR UPDATE) "
              "UPDATE host_leases h SET last_seq = greatest(old.last_seq, $3::bigint) "
              "FROM old WHERE h.host_id = $1 AND h.epoch = $2 RETURNING old.last_seq",
              {fence_.host_id, std::to_string(fence_.epoch), std::to_string(mark)}});
  if (!r) {
    return r.error();
  }
  if (r->size() != 1) {
    return make_error(ErrorKind::server, "postgres",
                      "host " + fence_.host_id + " lease epoch " + std::to_string(fence_.epoch) +
                          " is not current",
                      std::string(kFencedPgCode));
  }
  return r->integer(0, 0);
}

Result<std::vector<OutboxRow>> PgOutbox::fetch(std::size_t limit) {
  auto r =
      single({"SELECT seq, payload FROM health_outbox WHERE host_id = $1 ORDER BY seq LIMIT $2",
              {fence_.host_id, std::to_string(limit)}});
  if (!r) {
    return r.error();
  }
  std::vector<OutboxRow> out;
  out.reserve(static_cast<std::size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) {
    out.push_back({to_i64(r->text(i, 0)), std::string(r->text(i, 1))});
  }
  return out;
}

Result<void> PgOutbox::confirm(const std::vector<RelayedRow>& rows, std::int64_t through_seq) {
  if (!connected()) {
    return not_connected();
  }
  // One row per game (the latest of the batch): one statement cannot upsert a key twice.
  std::map<std::string_view, const RelayedRow*> latest;
  for (const auto& row : rows) {
    auto& slot = latest[row.event.game_id];
    if (slot == nullptr || std::pair(row.event.occurred_at_ms, row.seq) >
                               std::pair(slot->event.occurred_at_ms, slot->seq)) {
      slot = &row;
    }
  }
  boost::json::array snaps;
  snaps.reserve(latest.size());
  for (const auto& [game, row] : latest) {
    const auto& e = row->event;
    snaps.push_back(boost::json::array{
        boost::json::string_view(e.game_id), boost::json::string_view(e.container_id),
        boost::json::string_view(contract::to_string(e.type())), e.occurred_at_ms,
        boost::json::string(contract::encode_details(e.details)),
        boost::json::string_view(row->stream_id), row->seq});
  }
  const std::string& host = fence_.host_id;
  auto r = conn_->pipeline(std::vector<Query>{
      {"BEGIN", {}},
      {"SELECT galaxy_fence($1, $2::bigint)", {host, std::to_string(fence_.epoch)}},
      // A game that moved hosts: its events of different hosts are ordered by occurrence (seqs
      // of two hosts are not comparable; a tie between hosts goes to whichever came first).
      {"INSERT INTO health_snapshots (game_id, container_id, event_type, occurred_at_ms, "
       "details, stream_id, seq, host_id, updated_at) "
       "SELECT e.v->>0, e.v->>1, e.v->>2, (e.v->>3)::bigint, (e.v->>4)::jsonb, e.v->>5, "
       "(e.v->>6)::bigint, $2, now() FROM json_array_elements($1::json) AS e(v) "
       "ON CONFLICT (game_id) DO UPDATE SET container_id = EXCLUDED.container_id, "
       "event_type = EXCLUDED.event_type, occurred_at_ms = EXCLUDED.occurred_at_ms, "
       "details = EXCLUDED.details, stream_id = EXCLUDED.stream_id, seq = EXCLUDED.seq, "
       "host_id = EXCLUDED.host_id, updated_at = now() "
       "WHERE (EXCLUDED.occurred_at_ms, EXCLUDED.seq) > "
       "(health_snapshots.occurred_at_ms, health_snapshots.seq)",
       {boost::json::serialize(snaps), host}},
      {"DELETE FROM health_outbox WHERE host_id = $1 AND seq <= $2::bigint",
       {host, std::to_string(through_seq)}},
      {"COMMIT", {}}});
  if (!r) {
    return r.error();
  }
  return {};
}

Result<std::int64_t> PgOutbox::outbox_size() {
  auto r = single({"SELECT count(*) FROM health_outbox", {}});
  if (!r) {
    return r.error();
  }
  return r->integer(0, 0);
}

}  // namespace galaxy::publish
