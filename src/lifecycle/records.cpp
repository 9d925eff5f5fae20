#include "galaxy/lifecycle/records.hpp"

#include <array>

#include "galaxy/publish/pg_outbox.hpp"

namespace galaxy::lifecycle {

namespace {

constexpr std::array<std::string_view, 3> kDesired{"running", "stopped", "removed"};
constexpr std::array<std::string_view, 5> kState{"pending", "running", "stopped", "removed",
                                                 "failed"};
constexpr std::array<std::string_view, 5> kAction{"", "create", "stop", "restart", "remove"};

template <class E, std::size_t N>
E from(std::string_view text, const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) {
      return static_cast<E>(i);
    }
  }
  return static_cast<E>(0);
}

constexpr const char* kColumns =
    "game_id, incarnation, container_id, current, spec::text, desired, state, "
    "coalesce(action, ''), action_by, error, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

Result<std::vector<Record>> rows_to_records(const pg::Rows& rows) {
  std::vector<Record> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    Record r;
    r.game_id = std::string(rows.text(i, 0));
    auto inc = rows.integer(i, 1);
    if (!inc) {
      return inc.error();
    }
    r.incarnation = *inc;
    r.container_id = std::string(rows.text(i, 2));
    r.current = rows.text(i, 3) == "t";
    r.spec = std::string(rows.text(i, 4));
    r.desired = from<Desired>(rows.text(i, 5), kDesired);
    r.state = from<State>(rows.text(i, 6), kState);
    r.action = from<Action>(rows.text(i, 7), kAction);
    r.action_by = std::string(rows.text(i, 8));
    r.error = std::string(rows.text(i, 9));
    r.created_at = std::string(rows.text(i, 10));
    r.updated_at = std::string(rows.text(i, 11));
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::string> nullable(Action a) {
  if (a == Action::none) {
    return std::nullopt;
  }
  return std::string(to_string(a));
}

}  // namespace

std::string_view to_string(Desired d) {
  return kDesired.at(static_cast<std::size_t>(d));
}
std::string_view to_string(State s) {
  return kState.at(static_cast<std::size_t>(s));
}
std::string_view to_string(Action a) {
  return kAction.at(static_cast<std::size_t>(a));
}

PgRecordStore::PgRecordStore(pg::Target target, std::chrono::milliseconds io_timeout,
                             publish::HostFence fence)
    : target_(std::move(target)), io_timeout_(io_timeout), fence_(std::move(fence)) {}

PgRecordStore::~PgRecordStore() = default;

Result<pg::Conn*> PgRecordStore::conn() {
  if (conn_ && conn_->ok()) {
    return &*conn_;
  }
  conn_.reset();
  auto c = publish::open_migrated(target_, io_timeout_);
  if (!c) {
    return c.error();
  }
  conn_.emplace(std::move(*c));
  return &*conn_;
}

Result<std::vector<Record>> PgRecordStore::select(const std::string& where,
                                                  std::vector<std::string> params) {
  auto c = conn();
  if (!c) {
    return c.error();
  }
  params.insert(params.begin(), fence_.host_id);
  auto r = (*c)->query({std::string("SELECT ") + kColumns +
                            " FROM runtime_records WHERE host_id = $1 AND " + where +
                            " ORDER BY game_id, incarnation",
                        std::move(params)});
  if (!r) {
    conn_.reset();
    return r.error();
  }
  return rows_to_records(*r);
}

Result<std::optional<Record>> PgRecordStore::current(const std::string& game_id) {
  auto r = select("game_id = $2 AND current", {game_id});
  if (!r) {
    return r.error();
  }
  if (r->empty()) {
    return std::optional<Record>{};
  }
  return std::optional<Record>{std::move(r->front())};
}

Result<std::vector<Record>> PgRecordStore::list() {
  return select("current AND desired <> 'removed'", {});
}

Result<std::vector<Record>> PgRecordStore::pending() {
  return select("action IS NOT NULL", {});
}

Result<std::vector<std::string>> PgRecordStore::removal_intents() {
  auto r = select("container_id <> '' AND (desired = 'removed' OR NOT current)", {});
  if (!r) {
    return r.error();
  }
  std::vector<std::string> out;
  out.reserve(r->size());
  for (auto& rec : *r) {
    out.push_back(std::move(rec.container_id));
  }
  return out;
}

Result<std::vector<Record>> PgRecordStore::write(std::vector<pg::Query> statements) {
  auto c = conn();
  if (!c) {
    return c.error();
  }
  std::vector<pg::Query> qs;
  qs.reserve(statements.size() + 3);
  qs.push_back({"BEGIN", {}});
  qs.push_back(
      {"SELECT galaxy_fence($1, $2::bigint)", {fence_.host_id, std::to_string(fence_.epoch)}});
  for (auto& s : statements) {
    qs.push_back(std::move(s));
  }
  qs.push_back({"COMMIT", {}});
  auto r = (*c)->pipeline(qs);
  if (!r) {
    if (!publish::is_fenced(r.error())) {
      conn_.reset();
    }
    return r.error();
  }
  return rows_to_records((*r)[r->size() - 2]);
}

Result<Record> PgRecordStore::begin(Record rec) {
  const std::string& host = fence_.host_id;
  auto r = write({
      {"UPDATE runtime_records SET current = false, updated_at = now() "
       "WHERE host_id = $1 AND game_id = $2 AND current",
       {host, rec.game_id}},
      {std::string(
           "INSERT INTO runtime_records (host_id, game_id, incarnation, container_id, "
           "current, spec, desired, state, action, action_by, action_at) "
           "SELECT $1, $2, coalesce(max(incarnation), 0) + 1, $3, true, $4::jsonb, $5, "
           "$6, nullif($7, ''), $8, now() FROM runtime_records WHERE host_id = $1 AND game_id = $2 "
           "RETURNING ") +
           kColumns,
       {host, rec.game_id, rec.container_id, rec.spec, std::string(to_string(rec.desired)),
        std::string(to_string(rec.state)), nullable(rec.action).value_or(""), rec.action_by}},
  });
  if (!r) {
    return r.error();
  }
  if (r->size() != 1) {
    return make_error(ErrorKind::protocol, "postgres",
                      "runtime_records: the insert returned no row");
  }
  return std::move(r->front());
}

Result<Record> PgRecordStore::update(const Record& rec) {
  auto r =
      write({{std::string("UPDATE runtime_records SET container_id = $3, desired = $4, "
                          "state = $5, action = nullif($6, ''), action_by = $7, error = $8, "
                          "action_at = CASE WHEN $6 = '' THEN action_at ELSE now() END, "
                          "updated_at = now() "
                          "WHERE host_id = $1 AND game_id = $2 AND incarnation = $9::bigint "
                          "RETURNING ") +
                  kColumns,
              {fence_.host_id, rec.game_id, rec.container_id, std::string(to_string(rec.desired)),
               std::string(to_string(rec.state)), nullable(rec.action).value_or(""), rec.action_by,
               rec.error, std::to_string(rec.incarnation)}}});
  if (!r) {
    return r.error();
  }
  if (r->size() != 1) {
    return make_error(ErrorKind::invalid, "/" + rec.game_id,
                      "no record of incarnation " + std::to_string(rec.incarnation));
  }
  return std::move(r->front());
}

}  // namespace galaxy::lifecycle
