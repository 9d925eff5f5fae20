// galaxy-health snapshot: the health_snapshots table through libpq.
#include <fmt/format.h>
#include <libpq-fe.h>

#include <boost/json.hpp>
#include <memory>
#include <set>

#include "galaxy/cli/commands.hpp"
#include "galaxy/cli/render.hpp"

namespace galaxy::cli {

namespace {

struct PgDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
  void operator()(PGresult* r) const { PQclear(r); }
};

// libpq's messages name host and user, never the password.
std::string pg_message(PGconn* c) {
  std::string m = PQerrorMessage(c);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) {
    m.pop_back();
  }
  return m;
}

enum Column : std::uint8_t {
  kGame,
  kContainer,
  kType,
  kOccurred,
  kDetails,
  kStreamId,
  kSeq,
  kUpdated,
  kColumns
};

}  // namespace

int snapshot(const Connection& conn, const SnapshotOptions& options, std::ostream& out,
             std::ostream& err) {
  if (conn.postgres_url.empty()) {
    err << "galaxy-health snapshot: --postgres-url (or GALAXY_POSTGRES_URL) is required\n";
    return kExitUsage;
  }
  // Later keywords override what the URL says: every call gets our deadlines.
  const std::string connect_s = std::to_string(std::max<std::int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(conn.connect_timeout).count()));
  const std::string statement =
      fmt::format("-c statement_timeout={}", conn.command_timeout.count());
  const char* keys[] = {"dbname", "connect_timeout", "options", nullptr};
  const char* values[] = {conn.postgres_url.c_str(), connect_s.c_str(), statement.c_str(), nullptr};
  const std::unique_ptr<PGconn, PgDeleter> pg(PQconnectdbParams(keys, values, 1));
  if (!pg || PQstatus(pg.get()) != CONNECTION_OK) {
    err << "galaxy-health snapshot: connecting to PostgreSQL: "
        << (pg ? pg_message(pg.get()) : "out of memory") << "\n";
    return kExitFailure;
  }
  std::string sql =
      "SELECT game_id, container_id, event_type, occurred_at_ms::text, details::text, stream_id, "
      "seq::text, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
      "FROM health_snapshots";
  std::vector<const char*> params;
  for (std::size_t i = 0; i < options.games.size(); ++i) {
    sql += fmt::format("{}${}", i == 0 ? " WHERE game_id IN (" : ", ", i + 1);
    params.push_back(options.games[i].c_str());
  }
  sql += options.games.empty() ? " ORDER BY game_id" : ") ORDER BY game_id";
  const std::unique_ptr<PGresult, PgDeleter> res(
      PQexecParams(pg.get(), sql.c_str(), static_cast<int>(params.size()), nullptr, params.data(),
                   nullptr, nullptr, 0));
  if (!res || PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
    err << "galaxy-health snapshot: " << pg_message(pg.get()) << "\n";
    return kExitFailure;
  }
  auto cell = [&res](int row, int col) -> std::optional<std::string> {
    if (PQgetisnull(res.get(), row, col) != 0) {
      return std::nullopt;
    }
    return std::string(PQgetvalue(res.get(), row, col));
  };
  Table table{{"GAME", "CONTAINER", "TYPE", "OCCURRED (UTC)", "DETAILS", "STREAM ID", "SEQ",
               "UPDATED (UTC)"},
              {}};
  std::set<std::string> found;
  const int rows = PQntuples(res.get());
  for (int r = 0; r < rows; ++r) {
    found.insert(cell(r, kGame).value_or(""));
    if (options.json) {
      boost::json::object o;
      auto text_or_null = [&](const char* name, int col) {
        const auto v = cell(r, col);
        o[name] = v ? boost::json::value(*v) : boost::json::value(nullptr);
      };
      auto int_or_null = [&](const char* name, int col) {
        const auto v = cell(r, col);
        o[name] = v ? boost::json::value(std::stoll(*v)) : boost::json::value(nullptr);
      };
      text_or_null("game_id", kGame);
      text_or_null("container_id", kContainer);
      text_or_null("event_type", kType);
      int_or_null("occurred_at_ms", kOccurred);
      const auto details = cell(r, kDetails);
      boost::system::error_code ec;
      o["details"] = details ? boost::json::parse(*details, ec) : boost::json::value(nullptr);
      text_or_null("stream_id", kStreamId);
      int_or_null("seq", kSeq);
      text_or_null("updated_at", kUpdated);
      out << boost::json::serialize(o) << "\n";
    } else {
      std::vector<std::string> row;
      row.reserve(kColumns);
      for (int c = 0; c < kColumns; ++c) {
        row.push_back(cell(r, c).value_or("-"));
      }
      if (const auto ms = cell(r, kOccurred)) {
        row[kOccurred] = format_utc_ms(std::stoll(*ms));
      }
      table.rows.push_back(std::move(row));
    }
  }
  if (!options.json) {
    out << render_table(table, options.color);
  }
  out.flush();
  int rc = kExitOk;
  for (const auto& g : options.games) {
    if (!found.contains(g)) {
      err << "galaxy-health snapshot: no snapshot for game " << g << "\n";
      rc = kExitFailure;
    }
  }
  return rc;
}

}  // namespace galaxy::cli
