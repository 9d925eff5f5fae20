// The stream and database commands of galaxy-health (tail, consume, snapshot, hosts, stats).
// CommandLine only parses flags; everything that talks to Redis or PostgreSQL, and all output
// formatting, is here so it can be tested without the binary.
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

// Rows of health_snapshots (the latest event per game) with the state of their host's lease,
// rendered by render_snapshot. A requested game without a row is reported on `err` and makes the
// exit code 1; so does a database without the fleet schema (0002_fleet), named as such.
int snapshot(const Connection& conn, const SnapshotOptions& options, std::ostream& out,
             std::ostream& err);

// One row of health_snapshots as PostgreSQL's text of each column (NULL: nullopt), and what the
// database says of its host's lease (on the database's clock: host clocks are not trusted).
struct SnapshotRow {
  std::optional<std::string> game_id;
  std::optional<std::string> container_id;
  std::optional<std::string> event_type;
  std::optional<std::string> occurred_at_ms;  // an integer
  std::optional<std::string> details;         // JSON
  std::optional<std::string> stream_id;
  std::optional<std::string> seq;         // an integer
  std::optional<std::string> updated_at;  // "2026-04-02T09:23:31.000Z"
  std::optional<std::string> host_id;     // "": written before the fleet release
  // active: host_leases.lease_until is ahead of now(); lost: it passed and a holder is named;
  // left: released at a clean stop (holder ''); unknown: host_id '' or no host_leases row.
  // nullopt counts as unknown.
  std::optional<std::string> host_status;
};

// Whether a game's snapshot may be out of date because no daemon holds its host's lease: its
// host_status is lost or left (unknown is not: such rows predate the fleet release). Pure.
bool snapshot_stale(const SnapshotRow& row);

// What snapshot prints. table: GAME, CONTAINER (Docker's 12-character short ID), TYPE, OCCURRED
// (UTC), HOST, STALE (yes/no); wide: the full container ID and DETAILS, STREAM ID, SEQ, UPDATED
// (UTC) as well; NULL (and a host_id '') shows as "-". json: one object per row, with NULL as
// null, the integers as numbers, details as JSON, and host_id, host_status, stale (a bool).
// Pure.
std::string render_snapshot(const std::vector<SnapshotRow>& rows, const OutputOptions& output);

struct HostsOptions {
  OutputOptions output;
};

// One row per daemon of runtime_hosts with its host's lease (host_leases), rendered by
// render_hosts: sorted by host_id, then the active ones first, then daemon_id. Exit 1 when the
// database cannot be reached or has no fleet schema yet (the message says which).
int hosts(const Connection& conn, const HostsOptions& options, std::ostream& out,
          std::ostream& err);

// One row of runtime_hosts. Everything that depends on the time (status, lease holder, ages) was
// computed by the database with its now(): host clocks are not trusted.
struct HostRow {
  std::string host_id;
  std::string daemon_id;
  std::string hostname;
  std::string docker_id;
  std::string version;
  std::string stored_status;  // active | standby | left | lost, as the daemon wrote it
  // stored_status, except active or standby whose lease_until passed: lost.
  std::string status;
  bool lease_holder = false;  // host_leases.holder is this daemon and its lease_until is ahead
  std::int64_t epoch = 0;     // the lease epoch it held last (0: never active)
  // RFC 3339 UTC with milliseconds ("2026-04-02T09:23:31.000Z"); nullopt: +-infinity.
  std::optional<std::string> started_at;
  std::optional<std::string> heartbeat_at;
  std::optional<std::string> lease_until;
  std::optional<std::int64_t> heartbeat_age_ms;  // now() - heartbeat_at
  std::optional<std::int64_t> lease_left_ms;     // lease_until - now(); <= 0: expired
};

// What hosts prints. table: HOST, STATUS, DAEMON (the first 12 characters of its ID, with "*"
// appended when it holds the host's lease), HOSTNAME, VERSION, HEARTBEAT ("3s ago"), LEASE
// (time left, "12s", or "expired 40s ago"); wide adds DOCKER ID, EPOCH, STARTED (UTC) and the
// full DAEMON ID. An empty value or an unknown time shows as "-". json: one array of objects
// (every field of HostRow by its name; nullopt as null) on one line, "[]" when empty. Pure.
std::string render_hosts(const std::vector<HostRow>& rows, const OutputOptions& output);

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
