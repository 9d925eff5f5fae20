// galaxy-health hosts: the daemons of the fleet (runtime_hosts) and their hosts' leases
// (host_leases), through galaxy::pg.
#include <fmt/format.h>

#include <boost/json.hpp>

#include "galaxy/cli/commands.hpp"
#include "galaxy/cli/render.hpp"
#include "galaxy/pg/conn.hpp"
#include "postgres.hpp"

namespace galaxy::cli {

namespace {

boost::json::object json_object(const HostRow& row) {
  auto opt = [](const auto& v) { return v ? boost::json::value(*v) : boost::json::value(nullptr); };
  return boost::json::object{{"host_id", row.host_id},
                             {"daemon_id", row.daemon_id},
                             {"hostname", row.hostname},
                             {"docker_id", row.docker_id},
                             {"version", row.version},
                             {"status", row.status},
                             {"stored_status", row.stored_status},
                             {"lease_holder", row.lease_holder},
                             {"epoch", row.epoch},
                             {"started_at", opt(row.started_at)},
                             {"heartbeat_at", opt(row.heartbeat_at)},
                             {"lease_until", opt(row.lease_until)},
                             {"heartbeat_age_ms", opt(row.heartbeat_age_ms)},
                             {"lease_left_ms", opt(row.lease_left_ms)}};
}

std::string heartbeat_cell(const std::optional<std::int64_t>& age_ms) {
  if (!age_ms) {
    return "-";
  }
  // Ahead of the database's clock: a heartbeat written with a host's own clock.
  return *age_ms < 0 ? "in " + format_duration_ms(*age_ms) : format_duration_ms(*age_ms) + " ago";
}

std::string lease_cell(const std::optional<std::int64_t>& left_ms) {
  if (!left_ms) {
    return "-";
  }
  return *left_ms > 0 ? format_duration_ms(*left_ms)
                      : "expired " + format_duration_ms(*left_ms) + " ago";
}

std::string text_cell(const std::string& v) {
  return v.empty() ? "-" : v;
}

// A timestamp as RFC 3339 UTC with milliseconds; NULL for +-infinity (to_char gives NULL).
std::string utc(std::string_view column) {
  return fmt::format("to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", column);
}

// milliseconds from `from` to `to` on the database's clock; NULL when either is infinite.
std::string millis(std::string_view from, std::string_view to) {
  return fmt::format(
      "CASE WHEN isfinite({0}) AND isfinite({1}) "
      "THEN floor(extract(epoch FROM {1} - {0}) * 1000)::bigint END",
      from, to);
}

}  // namespace

std::string render_hosts(const std::vector<HostRow>& rows, const OutputOptions& output) {
  if (output.format == OutputFormat::json) {
    boost::json::array a;
    a.reserve(rows.size());
    for (const auto& row : rows) {
      a.emplace_back(json_object(row));
    }
    return boost::json::serialize(a) + "\n";
  }
  const bool wide = output.format == OutputFormat::wide;
  Table table;
  if (output.headers) {
    table.headers = {"HOST", "STATUS", "DAEMON", "HOSTNAME", "VERSION", "HEARTBEAT", "LEASE"};
    if (wide) {
      table.headers.insert(table.headers.end(),
                           {"DOCKER ID", "EPOCH", "STARTED (UTC)", "DAEMON ID"});
    }
  }
  for (const auto& row : rows) {
    std::string daemon(short_container_id(row.daemon_id));
    if (row.lease_holder) {
      daemon += '*';
    }
    std::vector<std::string> cells{
        text_cell(row.host_id),       text_cell(row.status),  text_cell(daemon),
        text_cell(row.hostname),      text_cell(row.version), heartbeat_cell(row.heartbeat_age_ms),
        lease_cell(row.lease_left_ms)};
    if (wide) {
      cells.insert(cells.end(), {text_cell(row.docker_id), std::to_string(row.epoch),
                                 row.started_at.value_or("-"), text_cell(row.daemon_id)});
    }
    table.rows.push_back(std::move(cells));
  }
  return render_table(table, output.color);
}

int hosts(const Connection& conn, const HostsOptions& options, std::ostream& out,
          std::ostream& err) {
  auto pg = open_postgres(conn);
  if (!pg) {
    return report_pg_error(err, "hosts", pg.error());
  }
  // The columns in HostRow's order. Everything about time is the database's now(): a daemon
  // stored active or standby whose lease_until passed is lost (its heartbeats, which move
  // lease_until on, stopped), and it holds its host's lease only while that lease runs.
  const pg::Query q{
      fmt::format("WITH h AS (SELECT r.*, CASE WHEN r.status IN ('active', 'standby') AND "
                  "r.lease_until <= now() THEN 'lost' ELSE r.status END AS shown, "
                  "coalesce(l.holder = r.daemon_id AND l.lease_until > now(), false) AS holder "
                  "FROM runtime_hosts r LEFT JOIN host_leases l ON l.host_id = r.host_id) "
                  "SELECT host_id, daemon_id, hostname, docker_id, version, status, shown, holder, "
                  "epoch, {}, {}, {}, {}, {} FROM h "
                  "ORDER BY host_id, shown = 'active' DESC, daemon_id",
                  utc("started_at"), utc("heartbeat_at"), utc("lease_until"),
                  millis("heartbeat_at", "now()"), millis("now()", "lease_until")),
      {}};
  auto res = pg->query(q);
  if (!res) {
    return report_pg_error(err, "hosts", res.error());
  }
  std::vector<HostRow> rows;
  rows.reserve(static_cast<std::size_t>(res->size()));
  for (int r = 0; r < res->size(); ++r) {
    auto text = [&res, r](int col) { return std::string(res->text(r, col)); };
    auto opt_text = [&res, r](int col) -> std::optional<std::string> {
      if (res->null(r, col)) {
        return std::nullopt;
      }
      return std::string(res->text(r, col));
    };
    auto opt_int = [&res, r](int col) -> Result<std::optional<std::int64_t>> {
      if (res->null(r, col)) {
        return std::optional<std::int64_t>{};
      }
      auto v = res->integer(r, col);
      if (!v) {
        return v.error();
      }
      return std::optional<std::int64_t>{*v};
    };
    auto epoch = res->integer(r, 8);
    auto heartbeat_age = opt_int(12);
    auto lease_left = opt_int(13);
    if (!epoch || !heartbeat_age || !lease_left) {
      return report_pg_error(err, "hosts",
                             !epoch           ? epoch.error()
                             : !heartbeat_age ? heartbeat_age.error()
                                              : lease_left.error());
    }
    rows.push_back(HostRow{text(0), text(1), text(2), text(3), text(4), text(5), text(6),
                           res->text(r, 7) == "t", *epoch, opt_text(9), opt_text(10), opt_text(11),
                           *heartbeat_age, *lease_left});
  }
  out << render_hosts(rows, options.output) << std::flush;
  return kExitOk;
}

}  // namespace galaxy::cli
