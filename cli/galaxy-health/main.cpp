// galaxy-health: the operator CLI. Only wiring: each subcommand's work lives in a module library.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <system_error>

#include "galaxy/cli/commands.hpp"
#include "galaxy/common/duration.hpp"
#include "galaxy/contract/validate.hpp"

namespace {

constexpr int kExitUsage = 2;

int run_validate(const std::vector<std::string>& files, const std::string& format, bool json,
                 bool canonical) {
  galaxy::contract::ValidateOptions options;
  options.format = format == "entry" ? galaxy::contract::InputFormat::entry
                                     : galaxy::contract::InputFormat::payload;
  options.json = json;
  options.canonical = canonical;
  galaxy::contract::ValidateCounts total;
  auto add = [&total](galaxy::contract::ValidateCounts c) {
    total.valid += c.valid;
    total.invalid += c.invalid;
  };
  std::ios::sync_with_stdio(false);
  if (files.empty() || (files.size() == 1 && files[0] == "-")) {
    add(galaxy::contract::validate_stream(std::cin, std::cout, "", options));
    if (std::cin.bad()) {
      std::cerr << "galaxy-health validate: error reading stdin\n";
      return kExitUsage;
    }
  } else {
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::cerr << "galaxy-health validate: cannot open " << file << ": "
                  << std::generic_category().message(errno) << "\n";
        return kExitUsage;
      }
      add(galaxy::contract::validate_stream(in, std::cout, file, options));
      if (in.bad()) {
        std::cerr << "galaxy-health validate: error reading " << file << "\n";
        return kExitUsage;
      }
    }
  }
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "galaxy-health validate: error writing output\n";
    return kExitUsage;
  }
  return total.invalid == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"galaxy-health: operator tools for the runtime:health_events stream"};
  app.require_subcommand(1);

  auto* validate = app.add_subcommand(
      "validate",
      "Check newline-delimited JSON against the health-events contract. Prints 'ok' or "
      "'invalid: <path>: <reason>' per line. Exit 0: all valid, 1: some invalid, 2: usage or I/O "
      "error.");
  std::vector<std::string> files;
  std::string format = "payload";
  bool json = false;
  bool canonical = false;
  validate->add_option("files", files, "Input files ('-' or none: stdin)");
  validate
      ->add_option("--format", format,
                   "payload: each line is a payload; entry: each line is "
                   "an object of the five stream fields (string values)")
      ->check(CLI::IsMember({"payload", "entry"}))
      ->capture_default_str();
  validate->add_flag("--json", json, "One JSON object per input line");
  validate->add_flag("--canonical", canonical,
                     "Print the canonical encoding of each valid line instead of 'ok'");

  namespace gc = galaxy::cli;
  gc::Connection conn;
  // Accepted before or after the subcommand name (fallthrough), and from the environment.
  app.fallthrough();
  app.add_option("--redis-url", conn.redis_url,
                 "redis://[user:password@]host:port[/db] or unix:///path")
      ->envname("GALAXY_REDIS_URL")
      ->capture_default_str();
  app.add_option("--postgres-url", conn.postgres_url, "libpq URL or conninfo (snapshot)")
      ->envname("GALAXY_POSTGRES_URL");
  app.add_option("--stream", conn.stream, "The health-events stream key")
      ->envname("GALAXY_STREAM")
      ->capture_default_str();

  auto* tail = app.add_subcommand(
      "tail", "Follow the stream (XREAD): a table, or --json canonical payloads, one per line");
  gc::TailOptions tail_opts;
  std::uint64_t tail_count = 0;
  tail->add_option("--from", tail_opts.from, "now, start, or an entry ID (exclusive)")
      ->capture_default_str();
  tail->add_option("--game", tail_opts.games, "Only this game (repeatable)");
  tail->add_option("--type", tail_opts.types, "Only this event type (repeatable)");
  tail->add_flag("--json", tail_opts.json, "Canonical payload JSON, one per line");
  auto* tail_count_opt = tail->add_option("--count", tail_count, "Exit after N events");

  auto* consume = app.add_subcommand(
      "consume",
      "Join a consumer group; hand each event to --exec CMD on stdin (ack on exit 0) or print it");
  gc::ConsumeOptions consume_opts;
  std::uint64_t consume_count = 0;
  std::string exec_cmd;
  consume->add_option("--group", consume_opts.group, "Consumer group")->required();
  consume->add_option("--consumer", consume_opts.consumer, "Consumer name in the group")
      ->required();
  auto* exec_opt = consume->add_option("--exec", exec_cmd, "Run /bin/sh -c CMD per event");
  auto* consume_count_opt =
      consume->add_option("--count", consume_count, "Exit after N deliveries");
  consume->add_option("--from", consume_opts.from, "Start of a group created now: now|start|ID")
      ->capture_default_str();
  consume
      ->add_option("--max-deliveries", consume_opts.max_deliveries,
                   "Dead-letter an entry delivered more often")
      ->capture_default_str();
  std::string claim_idle = "30s";
  std::string exec_timeout = "60s";
  consume->add_option("--claim-idle", claim_idle, "Claim entries pending longer than this")
      ->capture_default_str();
  consume->add_option("--exec-timeout", exec_timeout, "Kill CMD after this long (a failure)")
      ->capture_default_str();

  auto* snapshot = app.add_subcommand("snapshot", "Latest event per game from health_snapshots");
  gc::SnapshotOptions snapshot_opts;
  snapshot->add_option("games", snapshot_opts.games, "Game IDs (none: all)");
  snapshot->add_flag("--json", snapshot_opts.json, "One JSON object per line");

  auto* stats = app.add_subcommand("stats", "Stream length, first/last entry, groups, consumers");
  gc::StatsOptions stats_opts;
  stats->add_flag("--json", stats_opts.json, "One JSON object");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (*validate) {
    return run_validate(files, format, json, canonical);
  }
  const bool color = ::isatty(STDOUT_FILENO) == 1;
  std::ios::sync_with_stdio(false);
  if (*snapshot) {
    snapshot_opts.color = color;
    return gc::snapshot(conn, snapshot_opts, std::cout, std::cerr);
  }
  if (*stats) {
    stats_opts.color = color;
    return gc::stats(conn, stats_opts, std::cout, std::cerr);
  }
  for (auto [text, target] : {std::pair{&claim_idle, &consume_opts.claim_idle},
                              std::pair{&exec_timeout, &consume_opts.exec_timeout}}) {
    auto d = galaxy::parse_duration(*text);
    if (!d) {
      std::cerr << "galaxy-health consume: " << d.error().message() << "\n";
      return kExitUsage;
    }
    *target = *d;
  }
  galaxy::StopSignal stop;
  const galaxy::SignalWatcher signals(stop);
  if (*tail) {
    tail_opts.color = color;
    if (*tail_count_opt) {
      tail_opts.count = tail_count;
    }
    return gc::tail(conn, tail_opts, std::cout, std::cerr, stop);
  }
  if (*consume) {
    if (*exec_opt) {
      consume_opts.exec = exec_cmd;
    }
    if (*consume_count_opt) {
      consume_opts.count = consume_count;
    }
    return gc::consume(conn, consume_opts, std::cout, std::cerr, stop);
  }
  return kExitUsage;
}
