#include "galaxy/cli/command_line.hpp"

#include <cerrno>
#include <fstream>
#include <system_error>

#include "galaxy/common/build_info.hpp"
#include "galaxy/common/cli.hpp"
#include "galaxy/common/duration.hpp"
#include "galaxy/common/stop_signal.hpp"
#include "galaxy/contract/event.hpp"
#include "galaxy/contract/validate.hpp"

namespace galaxy::cli {

namespace {

// Durations are written 250ms, 2s, 1m; a typo is a usage error that names the flag.
CLI::Validator duration_check() {
  return {[](const std::string& text) {
            auto d = parse_duration(text);
            return d ? std::string() : d.error().message();
          },
          "DURATION"};
}

std::vector<std::string> strings(auto names) {
  return {names.begin(), names.end()};
}

}  // namespace

CLI::Option* CommandLine::hint(CLI::Option* opt, ValueHint h) {
  hints_[opt] = std::move(h);
  return opt;
}

CLI::Option* CommandLine::choices(CLI::Option* opt, std::vector<std::string> words) {
  opt->check(CLI::IsMember(words));
  return hint(opt, ValueHint{std::move(words), false});
}

void CommandLine::add_output_flags(CLI::App& sub, OutputFlags& flags, const std::string& help) {
  auto* output =
      choices(sub.add_option("-o,--output", flags.format, help), strings(kOutputFormatNames))
          ->capture_default_str();
  sub.add_flag("--json", flags.json, "The same as -o json (kept for existing scripts)")
      ->excludes(output);
  sub.add_flag("--no-headers", flags.no_headers, "No header row (table and wide)");
}

OutputOptions CommandLine::OutputFlags::resolve(bool color) const {
  // The option's check admits only the names parse_output_format knows.
  return OutputOptions{json ? OutputFormat::json : parse_output_format(format).value(), !no_headers,
                       color};
}

CommandLine::CommandLine()
    : app_("galaxy-health: operator tools for the runtime:health_events stream", "galaxy-health") {
  app_.require_subcommand(1);
  app_.set_version_flag("--version", version_line("galaxy-health"));

  validate_ = app_.add_subcommand(
      "validate",
      "Check newline-delimited JSON against the health-events contract. Prints 'ok' or "
      "'invalid: <path>: <reason>' per line. Exit 0: all valid, 1: some invalid, 2: usage or I/O "
      "error.");
  hint(validate_->add_option("files", validate_files_, "Input files ('-' or none: stdin)"),
       ValueHint{{}, true});
  choices(validate_->add_option("--format", validate_format_,
                                "payload: each line is a payload; entry: each line is "
                                "an object of the five stream fields (string values)"),
          {"payload", "entry"})
      ->capture_default_str();
  validate_->add_flag("--json", validate_json_, "One JSON object per input line");
  validate_->add_flag("--canonical", validate_canonical_,
                      "Print the canonical encoding of each valid line instead of 'ok'");

  // Accepted before or after the subcommand name (fallthrough), and from the environment.
  // Subcommands added from here on inherit the fallthrough (validate needs no connection).
  app_.fallthrough();
  app_.add_option("--redis-url", conn_.redis_url,
                  "redis://[user:password@]host:port[/db] or unix:///path")
      ->envname("GALAXY_REDIS_URL")
      ->capture_default_str();
  app_.add_option("--postgres-url", conn_.postgres_url, "libpq URL or conninfo (snapshot, hosts)")
      ->envname("GALAXY_POSTGRES_URL");
  app_.add_option("--stream", conn_.stream, "The health-events stream key")
      ->envname("GALAXY_STREAM")
      ->capture_default_str();

  const std::vector<std::string> from_words{"now", "start"};
  tail_ = app_.add_subcommand(
      "tail", "Follow the stream (XREAD): a table, or --json canonical payloads, one per line");
  hint(tail_->add_option("--from", tail_opts_.from, "now, start, or an entry ID (exclusive)"),
       ValueHint{from_words, false})
      ->capture_default_str();
  tail_->add_option("--game", tail_opts_.games, "Only this game (repeatable)");
  // Checked by tail itself, which names the bad type; the hint only offers the names.
  hint(tail_->add_option("--type", tail_opts_.types, "Only this event type (repeatable)"),
       ValueHint{strings(contract::kEventTypeNames), false});
  tail_->add_flag("--json", tail_opts_.json, "Canonical payload JSON, one per line");
  tail_count_opt_ = tail_->add_option("--count", tail_count_, "Exit after N events");

  consume_ = app_.add_subcommand(
      "consume",
      "Join a consumer group; hand each event to --exec CMD on stdin (ack on exit 0) or print it");
  consume_->add_option("--group", consume_opts_.group, "Consumer group")->required();
  consume_->add_option("--consumer", consume_opts_.consumer, "Consumer name in the group")
      ->required();
  exec_opt_ = consume_->add_option("--exec", exec_cmd_, "Run /bin/sh -c CMD per event");
  consume_count_opt_ = consume_->add_option("--count", consume_count_, "Exit after N deliveries");
  hint(consume_->add_option("--from", consume_opts_.from,
                            "Start of a group created now: now|start|ID"),
       ValueHint{from_words, false})
      ->capture_default_str();
  consume_
      ->add_option("--max-deliveries", consume_opts_.max_deliveries,
                   "Dead-letter an entry delivered more often")
      ->capture_default_str();
  consume_->add_option("--claim-idle", claim_idle_, "Claim entries pending longer than this")
      ->check(duration_check())
      ->capture_default_str();
  consume_->add_option("--exec-timeout", exec_timeout_, "Kill CMD after this long (a failure)")
      ->check(duration_check())
      ->capture_default_str();

  snapshot_ = app_.add_subcommand("snapshot", "Latest event per game from health_snapshots");
  snapshot_->add_option("games", snapshot_opts_.games, "Game IDs (none: all)");
  add_output_flags(*snapshot_, snapshot_output_);

  hosts_ = app_.add_subcommand(
      "hosts",
      "Daemons of the fleet from runtime_hosts and their hosts' leases (* = holds the lease)");
  add_output_flags(*hosts_, hosts_output_,
                   "table, wide (more columns) or json (one JSON array of all the daemons)");

  stats_ = app_.add_subcommand("stats", "Stream length, first/last entry, groups, consumers");
  add_output_flags(*stats_, stats_output_);

  completion_ = app_.add_subcommand(
      "completion",
      "Print a completion script: source <(galaxy-health completion bash), or zsh likewise");
  choices(completion_->add_option("shell", completion_shell_, "bash or zsh")->required(),
          {"bash", "zsh"});
}

std::optional<int> CommandLine::parse(std::vector<std::string> args, std::ostream& out,
                                      std::ostream& err) {
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  try {
    app_.parse(args);
  } catch (const CLI::ParseError& e) {
    return parse_error_exit(app_, e, out, err);
  }
  return std::nullopt;
}

int CommandLine::run_validate(std::istream& in, std::ostream& out, std::ostream& err) const {
  contract::ValidateOptions options;
  options.format =
      validate_format_ == "entry" ? contract::InputFormat::entry : contract::InputFormat::payload;
  options.json = validate_json_;
  options.canonical = validate_canonical_;
  contract::ValidateCounts total;
  auto add = [&total](contract::ValidateCounts c) {
    total.valid += c.valid;
    total.invalid += c.invalid;
  };
  if (validate_files_.empty() || (validate_files_.size() == 1 && validate_files_[0] == "-")) {
    add(contract::validate_stream(in, out, "", options));
    if (in.bad()) {
      err << "galaxy-health validate: error reading stdin\n";
      return kExitUsage;
    }
  } else {
    for (const auto& file : validate_files_) {
      std::ifstream f(file, std::ios::binary);
      if (!f) {
        err << "galaxy-health validate: cannot open " << file << ": "
            << std::generic_category().message(errno) << "\n";
        return kExitUsage;
      }
      add(contract::validate_stream(f, out, file, options));
      if (f.bad()) {
        err << "galaxy-health validate: error reading " << file << "\n";
        return kExitUsage;
      }
    }
  }
  out.flush();
  if (!out) {
    err << "galaxy-health validate: error writing output\n";
    return kExitUsage;
  }
  return total.invalid == 0 ? kExitOk : kExitFailure;
}

int CommandLine::run(std::istream& in, std::ostream& out, std::ostream& err, bool color) {
  if (*validate_) {
    return run_validate(in, out, err);
  }
  if (*completion_) {
    out << render_completion(app_, hints_, completion_shell_ == "zsh" ? Shell::zsh : Shell::bash)
        << std::flush;
    return out ? kExitOk : kExitFailure;
  }
  if (*snapshot_) {
    snapshot_opts_.output = snapshot_output_.resolve(color);
    return snapshot(conn_, snapshot_opts_, out, err);
  }
  if (*hosts_) {
    return hosts(conn_, HostsOptions{hosts_output_.resolve(color)}, out, err);
  }
  if (*stats_) {
    return stats(conn_, StatsOptions{stats_output_.resolve(color)}, out, err);
  }
  // The options' checks admitted only valid durations.
  consume_opts_.claim_idle = parse_duration(claim_idle_).value();
  consume_opts_.exec_timeout = parse_duration(exec_timeout_).value();
  StopSignal stop;
  const SignalWatcher signals(stop);
  if (*tail_) {
    tail_opts_.color = color;
    if (*tail_count_opt_) {
      tail_opts_.count = tail_count_;
    }
    return tail(conn_, tail_opts_, out, err, stop);
  }
  if (*consume_) {
    if (*exec_opt_) {
      consume_opts_.exec = exec_cmd_;
    }
    if (*consume_count_opt_) {
      consume_opts_.count = consume_count_;
    }
    return consume(conn_, consume_opts_, out, err, stop);
  }
  err << "galaxy-health: no subcommand\n";
  return kExitUsage;
}

}  // namespace galaxy::cli
