// galaxy-health snapshot: the health_snapshots table, with the lease of each game's host, through
// galaxy::pg.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <set>

#include "galaxy/cli/commands.hpp"
#include "galaxy/cli/render.hpp"
#include "galaxy/pg/conn.hpp"
#include "postgres.hpp"

namespace galaxy::cli {

namespace {

std::string json_line(const SnapshotRow& row) {
  auto text = [](const std::optional<std::string>& v) {
    return v ? boost::json::value(*v) : boost::json::value(nullptr);
  };
  auto integer = [](const std::optional<std::string>& v) {
    return v ? boost::json::value(std::stoll(*v)) : boost::json::value(nullptr);
  };
  boost::system::error_code ec;
  const boost::json::object o{
      {"game_id", text(row.game_id)},
      {"container_id", text(row.container_id)},
      {"event_type", text(row.event_type)},
      {"occurred_at_ms", integer(row.occurred_at_ms)},
      {"details", row.details ? boost::json::parse(*row.details, ec) : boost::json::value(nullptr)},
      {"stream_id", text(row.stream_id)},
      {"seq", integer(row.seq)},
      {"updated_at", text(row.updated_at)},
      {"host_id", text(row.host_id)},
      {"host_status", row.host_status.value_or("unknown")},
      {"stale", snapshot_stale(row)}};
  return boost::json::serialize(o);
}

}  // namespace

bool snapshot_stale(const SnapshotRow& row) {
  return row.host_status == "lost" || row.host_status == "left";
}

std::string render_snapshot(const std::vector<SnapshotRow>& rows, const OutputOptions& output) {
  std::string out;
  if (output.format == OutputFormat::json) {
    for (const auto& row : rows) {
      out += json_line(row) + "\n";
    }
    return out;
  }
  const bool wide = output.format == OutputFormat::wide;
  Table table;
  if (output.headers) {
    table.headers = {"GAME", "CONTAINER", "TYPE", "OCCURRED (UTC)", "HOST", "STALE"};
    if (wide) {
      table.headers.insert(table.headers.end(), {"DETAILS", "STREAM ID", "SEQ", "UPDATED (UTC)"});
    }
  }
  for (const auto& row : rows) {
    auto show = [](const std::optional<std::string>& v) { return v.value_or("-"); };
    std::string container = show(row.container_id);
    if (!wide) {
      container = std::string(short_container_id(container));
    }
    std::vector<std::string> cells{
        show(row.game_id),
        std::move(container),
        show(row.event_type),
        row.occurred_at_ms ? format_utc_ms(std::stoll(*row.occurred_at_ms)) : "-",
        row.host_id && !row.host_id->empty() ? *row.host_id : "-",
        snapshot_stale(row) ? "yes" : "no"};
    if (wide) {
      cells.insert(cells.end(),
                   {show(row.details), show(row.stream_id), show(row.seq), show(row.updated_at)});
    }
    table.rows.push_back(std::move(cells));
  }
  return render_table(table, output.color);
}

int snapshot(const Connection& conn, const SnapshotOptions& options, std::ostream& out,
             std::ostream& err) {
  auto pg = open_postgres(conn);
  if (!pg) {
    return report_pg_error(err, "snapshot", pg.error());
  }
  // The columns in SnapshotRow's order. The host's lease is judged by the database's clock; a row
  // written before the fleet release (host_id '') or whose host has no lease row is unknown.
  pg::Query q{
      "SELECT s.game_id, s.container_id, s.event_type, s.occurred_at_ms::text, s.details::text, "
      "s.stream_id, s.seq::text, "
      "to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), s.host_id, "
      "CASE WHEN l.host_id IS NULL THEN 'unknown' WHEN l.lease_until > now() THEN 'active' "
      "WHEN l.holder = '' THEN 'left' ELSE 'lost' END "
      "FROM health_snapshots s LEFT JOIN host_leases l ON l.host_id = s.host_id AND s.host_id <> "
      "''",
      {}};
  for (std::size_t i = 0; i < options.games.size(); ++i) {
    q.sql += fmt::format("{}${}", i == 0 ? " WHERE s.game_id IN (" : ", ", i + 1);
    q.params.push_back(options.games[i]);
  }
  q.sql += options.games.empty() ? " ORDER BY s.game_id" : ") ORDER BY s.game_id";
  auto res = pg->query(q);
  if (!res) {
    return report_pg_error(err, "snapshot", res.error());
  }
  std::vector<SnapshotRow> rows;
  std::set<std::string> found;
  for (int r = 0; r < res->size(); ++r) {
    auto cell = [&res, r](int col) -> std::optional<std::string> {
      if (res->null(r, col)) {
        return std::nullopt;
      }
      return std::string(res->text(r, col));
    };
    rows.push_back(SnapshotRow{cell(0), cell(1), cell(2), cell(3), cell(4), cell(5), cell(6),
                               cell(7), cell(8), cell(9)});
    found.insert(rows.back().game_id.value_or(""));
  }
  out << render_snapshot(rows, options.output) << std::flush;
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
