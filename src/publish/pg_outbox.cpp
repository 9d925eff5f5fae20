#include "galaxy/publish/pg_outbox.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <unordered_map>

#include "galaxy/contract/codec.hpp"
#include "migrations.hpp"

namespace galaxy::publish {

using Clock = std::chrono::steady_clock;
using PgResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

namespace {

// Advisory lock keys: arbitrary constants, the same in every build ("gxy" + a purpose).
constexpr std::int64_t kMigrateLock = 0x6778790001;
constexpr std::int64_t kRelayLock = 0x6778790002;

struct Query {
  std::string sql;
  std::vector<std::string> params;
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

std::int64_t to_i64(const char* s) {
  std::int64_t v = 0;
  std::from_chars(s, s + std::strlen(s), v);
  return v;
}

}  // namespace

// One libpq connection, non-blocking, every round trip bounded by a deadline with poll().
class PgConn {
 public:
  PgConn(PGconn* c, std::string password) : c_(c), password_(std::move(password)) {}
  ~PgConn() { PQfinish(c_); }
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  static Result<std::unique_ptr<PgConn>> open(const PgTarget& t) {
    std::vector<const char*> keys;
    std::vector<const char*> values;
    for (const auto& [k, v] : t.params) {
      keys.push_back(k.c_str());
      values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    // Blocking, but bounded by connect_timeout (always set by parse_postgres_target).
    auto conn =
        std::make_unique<PgConn>(PQconnectdbParams(keys.data(), values.data(), 0), t.password);
    if (conn->c_ == nullptr) {
      return make_error("postgres", "out of memory");
    }
    if (PQstatus(conn->c_) != CONNECTION_OK) {
      return conn->error("cannot connect to " + t.describe);
    }
    // Server notices ("relation already exists, skipping") are not for the daemon's stderr.
    PQsetNoticeProcessor(
        conn->c_, [](void* /*arg*/, const char* msg) { spdlog::debug("postgres: {}", msg); },
        nullptr);
    if (PQsetnonblocking(conn->c_, 1) != 0) {
      return conn->error("cannot make the connection non-blocking");
    }
    return conn;
  }

  bool ok() const { return PQstatus(c_) == CONNECTION_OK; }
  const std::string& sqlstate() const { return sqlstate_; }

  Error error(const std::string& what, const PGresult* r = nullptr) {
    const char* msg = r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(c_);
    const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    sqlstate_ = state != nullptr ? state : "";
    const std::array<std::string, 1> secrets{password_};
    return make_error("postgres", scrub(what + ": " + trim(msg != nullptr ? msg : ""), secrets));
  }

  // Runs the queries as one pipeline (one round trip); returns one result per query, or the
  // first error.
  Result<std::vector<PgResultPtr>> pipeline(const std::vector<Query>& qs, Clock::time_point dl) {
    sqlstate_.clear();
    if (PQenterPipelineMode(c_) != 1) {
      return error("cannot enter pipeline mode");
    }
    // Statements prepared by this pipeline, and for every result it will return, which of them
    // it prepared (or none: a query's result).
    std::vector<std::pair<const std::string*, std::string>> preparing;
    std::vector<std::optional<std::size_t>> answers;
    for (const auto& q : qs) {
      std::vector<const char*> vals;
      vals.reserve(q.params.size());
      for (const auto& p : q.params) {
        vals.push_back(p.c_str());
      }
      const int n = static_cast<int>(vals.size());
      const std::string* name = nullptr;
      if (const auto it = prepared_.find(q.sql); it != prepared_.end()) {
        name = &it->second;
      } else if (const auto it = std::find_if(preparing.begin(), preparing.end(),
                                              [&](const auto& p) { return *p.first == q.sql; });
                 it != preparing.end()) {
        name = &it->second;
      } else if (prepared_.size() + preparing.size() < kMaxPrepared) {
        preparing.emplace_back(&q.sql, "galaxy_" + std::to_string(next_statement_++));
        name = &preparing.back().second;
        if (PQsendPrepare(c_, name->c_str(), q.sql.c_str(), n, nullptr) != 1) {
          return error("cannot send a query");
        }
        answers.emplace_back(preparing.size() - 1);
      }
      const int sent =
          name != nullptr
              ? PQsendQueryPrepared(c_, name->c_str(), n, vals.data(), nullptr, nullptr, 0)
              : PQsendQueryParams(c_, q.sql.c_str(), n, nullptr, vals.data(), nullptr, nullptr, 0);
      if (sent != 1) {
        return error("cannot send a query");
      }
      answers.emplace_back();
    }
    if (PQpipelineSync(c_) != 1) {
      return error("cannot send a pipeline sync");
    }
    if (auto f = flush(dl); !f) {
      return f.error();
    }
    std::vector<PgResultPtr> out;
    std::optional<Error> first;
    int nulls = 0;
    std::size_t answered = 0;
    for (;;) {
      auto r = next(dl);
      if (!r) {
        return r.error();
      }
      if (*r == nullptr) {
        if (++nulls > 2) {
          return make_error("postgres", "pipeline ended without its sync");
        }
        continue;
      }
      nulls = 0;
      PgResultPtr res(*r, &PQclear);
      const auto st = PQresultStatus(res.get());
      if (st == PGRES_PIPELINE_SYNC) {
        break;
      }
      const auto prepared = answered < answers.size() ? answers[answered] : std::nullopt;
      ++answered;
      if (prepared && st == PGRES_COMMAND_OK) {
        auto& [sql, name] = preparing[*prepared];
        prepared_.emplace(*sql, std::move(name));
        continue;
      }
      if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
        if (!first) {
          first = error("query failed", res.get());
        }
      } else if (st != PGRES_PIPELINE_ABORTED) {
        out.push_back(std::move(res));
      }
    }
    if (PQexitPipelineMode(c_) != 1) {
      return error("cannot leave pipeline mode");
    }
    if (first) {
      return *first;
    }
    return out;
  }

  // A multi-statement SQL text (the simple query protocol; migrations need it).
  Result<void> simple(const std::string& sql, Clock::time_point dl) {
    sqlstate_.clear();
    if (PQsendQuery(c_, sql.c_str()) != 1) {
      return error("cannot send a query");
    }
    if (auto f = flush(dl); !f) {
      return f.error();
    }
    std::optional<Error> first;
    for (;;) {
      auto r = next(dl);
      if (!r) {
        return r.error();
      }
      if (*r == nullptr) {
        break;
      }
      PgResultPtr res(*r, &PQclear);
      const auto st = PQresultStatus(res.get());
      if ((st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) && !first) {
        first = error("query failed", res.get());
      }
    }
    if (first) {
      return *first;
    }
    return {};
  }

 private:
  Result<void> wait(short events, Clock::time_point dl) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(dl - Clock::now());
      if (left.count() <= 0) {
        return make_error("postgres", "no answer within the I/O deadline");
      }
      pollfd p{PQsocket(c_), events, 0};
      const int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n > 0) {
        return {};
      }
      if (n < 0 && errno != EINTR) {
        return make_error("postgres",
                          "poll: " + std::error_code(errno, std::generic_category()).message());
      }
    }
  }

  Result<void> flush(Clock::time_point dl) {
    for (;;) {
      const int r = PQflush(c_);
      if (r == 0) {
        return {};
      }
      if (r < 0) {
        return error("cannot send");
      }
      if (auto w = wait(POLLIN | POLLOUT, dl); !w) {
        return w.error();
      }
      // The server may be answering while we still send; reading keeps it from blocking.
      if (PQconsumeInput(c_) != 1) {
        return error("connection lost");
      }
    }
  }

  Result<PGresult*> next(Clock::time_point dl) {
    for (;;) {
      if (PQconsumeInput(c_) != 1) {
        return error("connection lost");
      }
      if (PQisBusy(c_) == 0) {
        return PQgetResult(c_);
      }
      if (auto w = wait(POLLIN, dl); !w) {
        return w.error();
      }
    }
  }

  // Named statements, parsed and planned once per connection: for the few small statements of
  // a commit, parsing and planning each time took half of the transaction's time (pgbench on
  // the publisher's SQL: 0.95-0.97 ms per one-event transaction with -M extended, 0.41-0.49 ms
  // prepared). Every SQL text here is a constant, so the cap is only a guard.
  static constexpr std::size_t kMaxPrepared = 64;

  PGconn* c_;
  std::string password_;
  std::string sqlstate_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
  std::uint64_t next_statement_ = 0;
};

namespace {

// One query in its own round trip, for the calls that need nothing more.
Result<PgResultPtr> single(PgConn* conn, std::chrono::milliseconds io_timeout, Query q) {
  if (conn == nullptr || !conn->ok()) {
    return make_error("postgres", "not connected");
  }
  auto r = conn->pipeline({std::move(q)}, Clock::now() + io_timeout);
  if (!r) {
    return r.error();
  }
  return std::move(r->front());
}

}  // namespace

PgOutbox::PgOutbox(PgTarget target, std::chrono::milliseconds io_timeout)
    : target_(std::move(target)), io_timeout_(io_timeout) {}

PgOutbox::~PgOutbox() = default;

bool PgOutbox::connected() const {
  return conn_ && conn_->ok();
}

void PgOutbox::disconnect() {
  conn_.reset();
}

Result<void> PgOutbox::connect() {
  conn_.reset();
  auto c = PgConn::open(target_);
  if (!c) {
    return c.error();
  }
  auto& conn = **c;
  const auto dl = Clock::now() + io_timeout_;
  const auto fail = [&](const Error& e) -> Result<void> {
    (void)conn.simple("ROLLBACK", Clock::now() + io_timeout_);
    return make_error(e.path, "applying migrations: " + e.reason);
  };
  if (auto r = conn.simple("BEGIN", dl); !r) {
    return r.error();
  }
  auto setup = conn.pipeline(
      {{"SELECT pg_advisory_xact_lock($1::bigint)", {std::to_string(kMigrateLock)}},
       {"CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT "
        "NULL, applied_at timestamptz NOT NULL DEFAULT now())",
        {}},
       {"SELECT version FROM schema_migrations", {}}},
      dl);
  if (!setup) {
    return fail(setup.error());
  }
  std::set<std::int64_t> applied;
  const PGresult* versions = setup->back().get();
  for (int i = 0; i < PQntuples(versions); ++i) {
    applied.insert(to_i64(PQgetvalue(versions, i, 0)));
  }
  for (const auto& m : migrations()) {
    const std::int64_t version = to_i64(std::string(m.name).c_str());
    if (applied.contains(version)) {
      continue;
    }
    if (auto r = conn.simple(std::string(m.sql), Clock::now() + io_timeout_); !r) {
      return fail(make_error(r.error().path, std::string(m.name) + ": " + r.error().reason));
    }
    auto rec = conn.pipeline({{"INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                               {std::to_string(version), std::string(m.name)}}},
                             Clock::now() + io_timeout_);
    if (!rec) {
      return fail(rec.error());
    }
  }
  if (auto r = conn.simple("COMMIT", Clock::now() + io_timeout_); !r) {
    return r.error();
  }
  conn_ = std::move(*c);
  return {};
}

Result<void> PgOutbox::commit(const Batch& batch, const std::string& writer_id) {
  if (!connected()) {
    return make_error("postgres", "not connected");
  }
  const auto dl = Clock::now() + io_timeout_;
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
  if (!batch.events.empty()) {
    boost::json::array rows;
    rows.reserve(batch.events.size());
    for (const auto& e : batch.events) {
      rows.push_back(boost::json::array{boost::json::string_view(e.game_id), e.occurred_at_ms,
                                        boost::json::string(contract::encode_payload(e))});
    }
    // The counter row's lock is held to COMMIT, so seq order is commit order across writers.
    qs.push_back(
        {"WITH c AS (UPDATE publish_counter SET last_seq = last_seq + $1::bigint "
         "WHERE id = 1 RETURNING last_seq - $1::bigint AS base) "
         "INSERT INTO health_outbox (seq, game_id, occurred_at_ms, payload) "
         "SELECT c.base + e.ord, e.v->>0, (e.v->>1)::bigint, e.v->>2 "
         "FROM c, json_array_elements($2::json) WITH ORDINALITY AS e(v, ord)",
         {std::to_string(batch.events.size()), boost::json::serialize(rows)}});
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
        {"INSERT INTO runtime_state (key, value) SELECT e.k, e.v::jsonb "
         "FROM json_each_text($1::json) AS e(k, v) ON CONFLICT (key) DO UPDATE "
         "SET value = EXCLUDED.value, updated_at = now()",
         {boost::json::serialize(upserts)}});
  }
  if (!deletes.empty()) {
    qs.push_back(
        {"DELETE FROM runtime_state WHERE key IN "
         "(SELECT json_array_elements_text($1::json))",
         {boost::json::serialize(deletes)}});
  }
  qs.push_back(
      {"INSERT INTO publish_writers (writer_id, last_batch) VALUES ($1, $2::bigint) "
       "ON CONFLICT (writer_id) DO UPDATE SET last_batch = EXCLUDED.last_batch, "
       "updated_at = now()",
       {writer_id, std::to_string(batch.number)}});
  qs.push_back({"COMMIT", {}});
  auto r = conn_->pipeline(qs, dl);
  if (!r) {
    const bool already = conn_->sqlstate() == "22012";  // division_by_zero: the guard fired
    if (conn_->ok()) {
      (void)conn_->simple("ROLLBACK", Clock::now() + io_timeout_);
    }
    if (already) {
      return {};
    }
    return r.error();
  }
  return {};
}

Result<std::vector<contract::StateRecord>> PgOutbox::load_state() {
  auto r = single(conn_.get(), io_timeout_,
                  {"SELECT key, value::text FROM runtime_state ORDER BY key", {}});
  if (!r) {
    return r.error();
  }
  std::vector<contract::StateRecord> out;
  const PGresult* res = r->get();
  out.reserve(static_cast<std::size_t>(PQntuples(res)));
  for (int i = 0; i < PQntuples(res); ++i) {
    out.push_back({PQgetvalue(res, i, 0), std::string(PQgetvalue(res, i, 1))});
  }
  return out;
}

Result<bool> PgOutbox::try_relay_lock() {
  auto r = single(conn_.get(), io_timeout_,
                  {"SELECT pg_try_advisory_lock($1::bigint)", {std::to_string(kRelayLock)}});
  if (!r) {
    return r.error();
  }
  return std::string_view(PQgetvalue(r->get(), 0, 0)) == "t";
}

Result<std::string> PgOutbox::epoch() {
  auto r =
      single(conn_.get(), io_timeout_, {"SELECT epoch FROM publish_identity WHERE id = 1", {}});
  if (!r) {
    return r.error();
  }
  if (PQntuples(r->get()) != 1) {
    return make_error("postgres", "publish_identity has no row");
  }
  return std::string(PQgetvalue(r->get(), 0, 0));
}

Result<std::vector<OutboxRow>> PgOutbox::fetch(std::size_t limit) {
  auto r = single(
      conn_.get(), io_timeout_,
      {"SELECT seq, payload FROM health_outbox ORDER BY seq LIMIT $1", {std::to_string(limit)}});
  if (!r) {
    return r.error();
  }
  std::vector<OutboxRow> out;
  const PGresult* res = r->get();
  out.reserve(static_cast<std::size_t>(PQntuples(res)));
  for (int i = 0; i < PQntuples(res); ++i) {
    out.push_back(
        {to_i64(PQgetvalue(res, i, 0)),
         std::string(PQgetvalue(res, i, 1), static_cast<std::size_t>(PQgetlength(res, i, 1)))});
  }
  return out;
}

Result<void> PgOutbox::confirm(const std::vector<RelayedRow>& rows, std::int64_t through_seq) {
  if (!connected()) {
    return make_error("postgres", "not connected");
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
  auto r = conn_->pipeline(
      {{"BEGIN", {}},
       {"INSERT INTO health_snapshots (game_id, container_id, event_type, occurred_at_ms, "
        "details, stream_id, seq, updated_at) "
        "SELECT e.v->>0, e.v->>1, e.v->>2, (e.v->>3)::bigint, (e.v->>4)::jsonb, e.v->>5, "
        "(e.v->>6)::bigint, now() FROM json_array_elements($1::json) AS e(v) "
        "ON CONFLICT (game_id) DO UPDATE SET container_id = EXCLUDED.container_id, "
        "event_type = EXCLUDED.event_type, occurred_at_ms = EXCLUDED.occurred_at_ms, "
        "details = EXCLUDED.details, stream_id = EXCLUDED.stream_id, seq = EXCLUDED.seq, "
        "updated_at = now() "
        "WHERE (EXCLUDED.occurred_at_ms, EXCLUDED.seq) > "
        "(health_snapshots.occurred_at_ms, health_snapshots.seq)",
        {boost::json::serialize(snaps)}},
       {"DELETE FROM health_outbox WHERE seq <= $1::bigint", {std::to_string(through_seq)}},
       {"COMMIT", {}}},
      Clock::now() + io_timeout_);
  if (!r) {
    if (conn_->ok()) {
      (void)conn_->simple("ROLLBACK", Clock::now() + io_timeout_);
    }
    return r.error();
  }
  return {};
}

Result<std::int64_t> PgOutbox::outbox_size() {
  auto r = single(conn_.get(), io_timeout_, {"SELECT count(*) FROM health_outbox", {}});
  if (!r) {
    return r.error();
  }
  return to_i64(PQgetvalue(r->get(), 0, 0));
}

}  // namespace galaxy::publish
