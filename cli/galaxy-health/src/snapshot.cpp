// galaxy-health snapshot: the health_snapshots table through galaxy::pg.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <memory>
#include <set>

#include "galaxy/cli/commands.hpp"
#include "galaxy/cli/render.hpp"
#include "galaxy/pg/conn.hpp"

namespace galaxy::cli {

namespace {

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
  pg::ConnectSettings settings;
  settings.connect_timeout = std::chrono::ceil<std::chrono::seconds>(conn.connect_timeout);
  settings.statement_timeout = conn.command_timeout;
  settings.application_name = "galaxy-health";
  auto target = pg::parse_target(conn.postgres_url, settings);
  if (!target) {
    err << "galaxy-health snapshot: --postgres-url: " << target.error().reason << "\n";
    return kExitUsage;
  }
  auto pg = pg::Conn::open(*target, conn.command_timeout);
  if (!pg) {
    err << "galaxy-health snapshot: " << pg.error().reason << "\n";
    return kExitFailure;
  }
  pg::Query q{
      "SELECT game_id, container_id, event_type, occurred_at_ms::text, details::text, stream_id, "
      "seq::text, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
      "FROM health_snapshots",
      {}};
  for (std::size_t i = 0; i < options.games.size(); ++i) {
    q.sql += fmt::format("{}${}", i == 0 ? " WHERE game_id IN (" : ", ", i + 1);
    q.params.push_back(options.games[i]);
  }
  q.sql += options.games.empty() ? " ORDER BY game_id" : ") ORDER BY game_id";
  auto res = pg->query(q);
  if (!res) {
    err << "galaxy-health snapshot: " << res.error().reason << "\n";
    return kExitFailure;
  }
  auto cell = [&res](int row, int col) -> std::optional<std::string> {
    if (res->null(row, col)) {
      return std::nullopt;
    }
    return std::string(res->text(row, col));
  };
  Table table{{"GAME", "CONTAINER", "TYPE", "OCCURRED (UTC)", "DETAILS", "STREAM ID", "SEQ",
               "UPDATED (UTC)"},
              {}};
  std::set<std::string> found;
  const int rows = res->size();
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
