// The stream commands of galaxy-health (tail, consume, snapshot, stats). main() only parses
// flags; everything that talks to Redis or PostgreSQL, and all output formatting, is here so it
// can be tested without the binary.
//
// Every command writes results to `out` and diagnostics to `err`, and returns the process exit
// code: 0 ok, 1 failure (a service failed or answered unexpectedly), 2 usage (bad arguments).
// Passwords in URLs never appear in output.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

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
  bool json = false;
  bool color = false;
};

// Rows of health_snapshots (the latest event per game) as a table or JSON lines. A requested
// game without a row is reported on `err` and makes the exit code 1.
int snapshot(const Connection& conn, const SnapshotOptions& options, std::ostream& out,
             std::ostream& err);

struct StatsOptions {
  bool json = false;
  bool color = false;
};

// The stream's length, first/last entry, groups (consumers, pending, lag) and their consumers.
int stats(const Connection& conn, const StatsOptions& options, std::ostream& out,
          std::ostream& err);

// "now" -> nullopt (the caller resolves it), "start" -> "0", an entry ID -> itself; else an
// error for the flag. Pure.
Result<std::optional<std::string>> parse_from(std::string_view from);

}  // namespace galaxy::cli
