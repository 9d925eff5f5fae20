// The stream commands of galaxy-health (tail, consume, snapshot, stats). CommandLine only parses
// flags; everything that talks to Redis or PostgreSQL, and all output formatting, is here so it
// can be tested without the binary.
//
// Every command writes results to `out` and diagnostics to `err`, and returns the process exit
// code: 0 ok, 1 failure (a service failed or answered unexpectedly), 2 usage (bad arguments).
// Passwords in URLs never appear in output.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "galaxy/cli/output.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/common/stop_signal.hpp"
#include "galaxy/consumer/options.hpp"

namespace galaxy::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Connection {
  std::string redis_url = "redis://127.0.0.1:6379";
  std::string postgres_url;
  std::string stream{consumer::kDefaultStream};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds command_timeout{5000};
};

struct TailOptions {
  std::string from = "now";            // now | start | an entry ID (exclusive)
  std::vector<std::string> games;      // empty: all
  std::vector<std::string> types;      // empty: all; each must be an event type
  bool json = false;                   // one canonical payload per line instead of the table
  std::optional<std::uint64_t> count;  // exit after this many printed events
  std::chrono::milliseconds block{1000};
  bool color = false;
};

// XREAD from `from` on, printing events that pass the filters. Invalid entries are reported as
// "invalid <id>: <path>: <reason>" (in the table on `out`; on `err` with --json so `out` stays
// JSON lines) and skipped. Runs until `count` events or stop.
int tail(const Connection& conn, const TailOptions& options, std::ostream& out, std::ostream& err,
         StopSignal& stop);

struct ConsumeOptions {
  std::string group;
  std::string consumer;
  std::optional<std::string> exec;  // sh command; gets the canonical payload + '\n' on stdin
  std::chrono::milliseconds exec_timeout{60000};
  std::optional<std::uint64_t> count;  // exit after this many deliveries (handled or failed)
  std::string from = "now";            // where a group created now starts: now | start | ID
  std::chrono::milliseconds claim_idle{30000};
  std::int64_t max_deliveries = 5;
  std::chrono::milliseconds block{1000};
};

// A consumer-group member: each event goes to --exec (acked on exit 0, left pending otherwise)
// or, without --exec, is printed as its canonical payload and acked. Fails fast (1) if Redis does
// not answer at start; later losses are retried. Runs until `count` deliveries or stop.
int consume(const Connection& conn, const ConsumeOptions& options, std::ostream& out,
            std::ostream& err, StopSignal& stop);

struct SnapshotOptions {
  std::vector<std::string> games;  // empty: all
  OutputOptions output;
};

// Rows of health_snapshots (the latest event per game), rendered by render_snapshot. A requested
// game without a row is reported on `err` and makes the exit code 1.
int snapshot(const Connection& conn, const SnapshotOptions& options, std::ostream& out,
             std::ostream& err);

// One row of health_snapshots as PostgreSQL's text of each column (NULL: nullopt).
struct SnapshotRow {
  std::optional<std::string> game_id;
  std::optional<std::string> container_id;
  std::optional<std::string> event_type;
  std::optional<std::string> occurred_at_ms;  // an integer
  std::optional<std::string> details;         // JSON
  std::optional<std::string> stream_id;
  std::optional<std::string> seq;         // an integer
  std::optional<std::string> updated_at;  // "2026-04-02T09:23:31.000Z"
};

// What snapshot prints. table: GAME, CONTAINER (Docker's 12-character short ID), TYPE, OCCURRED
// (UTC); wide: the full container ID and DETAILS, STREAM ID, SEQ, UPDATED (UTC) as well; NULL
// shows as "-". json: one object per row, with NULL as null, the integers as numbers and details
// as JSON. Pure.
std::string render_snapshot(const std::vector<SnapshotRow>& rows, const OutputOptions& output);

struct StatsOptions {
  OutputOptions output;
};

// The stream's length, first/last entry, groups (consumers, pending, lag) and their consumers,
// rendered by render_stats.
int stats(const Connection& conn, const StatsOptions& options, std::ostream& out,
          std::ostream& err);

// What stats prints for `doc`, the document -o json prints as one line:
//   {"stream", "length", "first_entry_id", "last_entry_id", "last_generated_id", "entries_added",
//    "groups": [{"name", "consumers": [{"name", "pending", "idle_ms"}], "pending",
//                "last_delivered_id", "entries_read", "lag"}]}
// table and wide: a summary, then groups, then consumers (when there are any), separated by blank
// lines; wide adds LAST GENERATED to the summary and ENTRIES READ to the groups. A value missing
// or null shows as "-". Pure.
std::string render_stats(const boost::json::object& doc, const OutputOptions& output);

// "now" -> nullopt (the caller resolves it), "start" -> "0", an entry ID -> itself; else an
// error for the flag. Pure.
Result<std::optional<std::string>> parse_from(std::string_view from);

}  // namespace galaxy::cli
