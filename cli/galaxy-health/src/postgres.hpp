// What snapshot and hosts share on the PostgreSQL side: one connection with the CLI's timeouts,
// and errors an operator can act on (a database whose schema predates the fleet release says so
// and says how to migrate it).
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "galaxy/cli/commands.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/pg/conn.hpp"

namespace galaxy::cli {

// Connects to conn.postgres_url within conn.connect_timeout, statements limited to
// conn.command_timeout. A missing or malformed URL is an error of kind invalid (a usage error).
Result<pg::Conn> open_postgres(const Connection& conn);

// The operator's line for an error of open_postgres or a query, without the "galaxy-health cmd: "
// prefix: libpq's first line without its severity, and for an undefined table or column
// (SQLSTATE 42P01, 42703) what to do about it. Pure.
std::string describe_pg_error(const Error& error);

// Writes "galaxy-health <command>: <describe_pg_error>" on err; returns kExitUsage for an error
// of kind invalid, kExitFailure for the rest.
int report_pg_error(std::ostream& err, std::string_view command, const Error& error);

}  // namespace galaxy::cli
