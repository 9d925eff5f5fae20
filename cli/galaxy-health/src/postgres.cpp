#include "postgres.hpp"

namespace galaxy::cli {

namespace {

constexpr std::string_view kUndefinedTable = "42P01";
constexpr std::string_view kUndefinedColumn = "42703";

}  // namespace

Result<pg::Conn> open_postgres(const Connection& conn) {
  if (conn.postgres_url.empty()) {
    return make_error("--postgres-url", "--postgres-url (or GALAXY_POSTGRES_URL) is required");
  }
  pg::ConnectSettings settings;
  settings.connect_timeout = std::chrono::ceil<std::chrono::seconds>(conn.connect_timeout);
  settings.statement_timeout = conn.command_timeout;
  settings.application_name = "galaxy-health";
  auto target = pg::parse_target(conn.postgres_url, settings);
  if (!target) {
    return make_error("--postgres-url", "--postgres-url: " + target.error().reason);
  }
  return pg::Conn::open(*target, conn.command_timeout);
}

std::string describe_pg_error(const Error& error) {
  std::string text = error.reason.substr(0, error.reason.find('\n'));
  if (error.kind != ErrorKind::server) {
    return text;
  }
  // libpq's "ERROR:  relation \"x\" does not exist", then LINE and caret lines. The severity is
  // one short word (npos, not found, is past it too).
  constexpr std::size_t kSeverityEnd = 10;
  if (const auto colon = text.find(":  "); colon < kSeverityEnd) {
    text.erase(0, colon + 3);
  }
  if (error.code == kUndefinedTable || error.code == kUndefinedColumn) {
    text +=
        ": the database is not migrated to the fleet schema (0002_fleet) yet; run "
        "runtime-manager serve once to migrate the schema";
  }
  return text;
}

int report_pg_error(std::ostream& err, std::string_view command, const Error& error) {
  err << "galaxy-health " << command << ": " << describe_pg_error(error) << "\n";
  return error.kind == ErrorKind::invalid ? kExitUsage : kExitFailure;
}

}  // namespace galaxy::cli
