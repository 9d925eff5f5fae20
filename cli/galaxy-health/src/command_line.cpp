#include "galaxy/cli/command_line.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <system_error>

#include "galaxy/common/build_info.hpp"
#include "galaxy/common/cli.hpp"
#include "galaxy/common/duration.hpp"
#include "galaxy/common/stop_signal.hpp"
#include "galaxy/contract/event.hpp"
#include "galaxy/contract/validate.hpp"
#include "galaxy/web/server.hpp"

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

// KEY=VALUE for --env and --label: CLI11 puts the flag's name before the message.
CLI::Validator key_value_check() {
  return {[](const std::string& text) {
            auto kv = parse_key_value(text, "");
            return kv ? std::string() : kv.error().reason;
          },
          "KEY=VALUE"};
}

CLI::Validator api_url_check() {
  return {[](const std::string& text) {
            auto a = parse_api_url(text);
            return a ? std::string() : a.error().reason;
          },
          "URL"};
}

CLI::Validator size_check() {
  return {[](const std::string& text) {
            auto n = parse_size(text);
            return n ? std::string() : n.error().reason;
          },
          "SIZE"};
}

// CLI11's PositiveNumber lets NaN through (every comparison with it is false).
CLI::Validator cpus_check() {
  return {[](const std::string& text) {
            double v = 0;
            const auto* end = text.data() + text.size();
            const auto [last, ec] = std::from_chars(text.data(), end, v);
            if (ec != std::errc() || last != end || !std::isfinite(v) || v <= 0) {
              return "'" + text + "' is not a number of CPUs more than 0 (1, 0.5, 2.5)";
            }
            return std::string();
          },
          "N"};
}

CLI::Validator healthz_path_check() {
  return {[](const std::string& text) {
            return text.starts_with('/') ? std::string() : "'" + text + "' does not start with /";
          },
          "PATH"};
}

// A later --env FOO=... would silently replace an earlier one; a typo is likelier than intent.
Result<std::vector<std::pair<std::string, std::string>>> key_values(
    const std::vector<std::string>& texts, std::string_view flag) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::set<std::string, std::less<>> seen;
  for (const auto& t : texts) {
    auto kv = parse_key_value(t, flag);
    if (!kv) {
      return kv.error();
    }
    if (!seen.insert(kv->first).second) {
      return make_error(std::string(flag), kv->first + " given twice");
    }
    pairs.push_back(std::move(*kv));
  }
  return pairs;
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
                  "redis://[user:password@]host:port[/db], unix:///path, "
                  "redis-sentinel://host:port[,host:port...]/master or "
                  "redis-cluster://host:port[,host:port...]")
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

  web_ = app_.add_subcommand(
      "web",
      "Serve a live web view of the games' health (snapshots, events as they arrive, hosts)");
  web_->add_option("--listen", web_listen_,
                   "HOST:PORT to serve on; an address other than loopback needs --token-file")
      ->capture_default_str();
  hint(web_->add_option("--token-file", web_token_file_,
                        "File of bearer tokens (NAME TOKEN or TOKEN per line, chmod 600); each "
                        "request then needs one, or the cookie a /?token=TOKEN link sets"),
       ValueHint{{}, true});

  hosts_ = app_.add_subcommand(
      "hosts",
      "Daemons of the fleet from runtime_hosts and their hosts' leases (* = holds the lease)");
  add_output_flags(*hosts_, hosts_output_,
                   "table, wide (more columns) or json (one JSON array of all the daemons)");

  stats_ = app_.add_subcommand("stats", "Stream length, first/last entry, groups, consumers");
  add_output_flags(*stats_, stats_output_);

  add_engines();

  completion_ = app_.add_subcommand(
      "completion",
      "Print a completion script: source <(galaxy-health completion bash), or zsh likewise");
  choices(completion_->add_option("shell", completion_shell_, "bash or zsh")->required(),
          {"bash", "zsh"});
}

void CommandLine::add_engines() {
  engines_ = app_.add_subcommand(
      "engines",
      "Run, list, stop, restart and remove game engines through the daemon's engines API "
      "(runtime-manager serve). Exit 1 when the API answers with an error or cannot be reached.");
  engines_->require_subcommand(1);
  // On engines, not on the whole program: they mean nothing to the Redis and PostgreSQL
  // commands. The subcommands inherit engines' fallthrough, so they work after those too.
  engines_
      ->add_option("--api", engines_conn_.api_url,
                   "The daemon's API: unix:/path/to/api.sock or http://HOST:PORT (no TLS)")
      ->envname("GALAXY_RM_API")
      ->check(api_url_check())
      ->capture_default_str();
  hint(engines_
           ->add_option("--token-file", engines_conn_.token_file,
                        "A file whose first line (not blank, not # comment) is TOKEN or NAME "
                        "TOKEN, sent as Authorization: Bearer TOKEN; none: no Authorization")
           ->envname("GALAXY_RM_TOKEN_FILE"),
       ValueHint{{}, true});
  engines_
      ->add_option("--request-timeout", request_timeout_,
                   "Give up on a request after this long, connecting (at most 5s of it) "
                   "included; Docker may take a while to create or stop a container")
      ->check(duration_check())
      ->capture_default_str();

  auto add_game = [this](CLI::App& sub) {
    sub.add_option("game", game_, "The game ID")->required();
  };
  const std::string record_help = "table, wide (more columns) or json (the record as one object)";

  engines_run_ = engines_->add_subcommand(
      "run",
      "Create and start GAME's engine from IMAGE (a command after --); 201 created, 200 the "
      "same spec was running already");
  engines_run_->add_option("game", run_spec_.game_id, "The game ID")->required();
  engines_run_->add_option("image", run_spec_.image, "The image, as the daemon allows it")
      ->required();
  engines_run_->add_option("cmd", run_spec_.cmd,
                           "After --: the command and its arguments (none: the image's own)");
  engines_run_->add_option("--env", run_env_, "An environment variable, KEY=VALUE (repeatable)")
      ->check(key_value_check());
  engines_run_->add_option("--label", run_labels_, "A container label, KEY=VALUE (repeatable)")
      ->check(key_value_check());
  healthz_port_opt_ =
      engines_run_
          ->add_option("--healthz-port", healthz_port_, "The port the daemon probes for health")
          ->check(CLI::Range(1, 65535));
  engines_run_
      ->add_option("--healthz-path", healthz_path_, "The HTTP path it probes (with --healthz-port)")
      ->needs(healthz_port_opt_)
      ->check(healthz_path_check())
      ->capture_default_str();
  memory_opt_ = engines_run_
                    ->add_option("--memory", memory_,
                                 "Memory limit: 512k, 64m, 1g (1024-based: KiB, MiB, GiB) or bytes")
                    ->check(size_check());
  cpus_opt_ =
      engines_run_->add_option("--cpus", cpus_, "CPU limit, in CPUs (0.5, 2)")->check(cpus_check());
  network_opt_ =
      engines_run_->add_option("--network", network_, "The Docker network to attach it to");
  add_output_flags(*engines_run_, engines_output_, record_help);

  engines_ls_ = engines_->add_subcommand("ls", "Every engine the daemon knows, one row each");
  add_output_flags(*engines_ls_, engines_output_,
                   "table, wide (more columns) or json (one JSON array of the records)");

  engines_show_ = engines_->add_subcommand("show", "One engine's record");
  add_game(*engines_show_);
  add_output_flags(*engines_show_, engines_output_, record_help);

  engines_stop_ = engines_->add_subcommand("stop", "Stop GAME's engine (it stays, stopped)");
  add_game(*engines_stop_);
  stop_timeout_opt_ =
      engines_stop_
          ->add_option("--timeout", stop_timeout_,
                       "How long the engine may take to stop before it is killed, in whole "
                       "seconds (rounded up); the request may take 30s longer than this")
          ->check(duration_check());
  add_output_flags(*engines_stop_, engines_output_, record_help);

  engines_restart_ = engines_->add_subcommand("restart", "Restart GAME's engine");
  add_game(*engines_restart_);
  add_output_flags(*engines_restart_, engines_output_, record_help);

  engines_rm_ = engines_->add_subcommand("rm", "Stop and remove GAME's engine and its container");
  add_game(*engines_rm_);
  add_output_flags(*engines_rm_, engines_output_, record_help);
}

int CommandLine::run_engines(std::ostream& out, std::ostream& err, bool color) {
  auto usage = [&err](std::string_view command, const std::string& message) {
    err << "galaxy-health engines " << command << ": " << message << "\n";
    return kExitUsage;
  };
  // The option's check admitted only valid durations.
  engines_conn_.timeouts.request = parse_duration(request_timeout_).value();
  const auto output = engines_output_.resolve(color);
  for (auto* sub : {engines_show_, engines_stop_, engines_restart_, engines_rm_}) {
    if (*sub && game_.empty()) {
      return usage(sub->get_name(), "GAME must not be empty");
    }
  }
  if (*engines_run_) {
    if (run_spec_.game_id.empty() || run_spec_.image.empty()) {
      return usage("run", "GAME and IMAGE must not be empty");
    }
    auto env = key_values(run_env_, "--env");
    auto labels = key_values(run_labels_, "--label");
    if (!env || !labels) {
      return usage("run", (!env ? env : labels).error().message());
    }
    run_spec_.env = std::move(*env);
    run_spec_.labels = std::move(*labels);
    if (*healthz_port_opt_) {
      run_spec_.healthz = HealthzSpec{healthz_port_, healthz_path_};
    }
    if (*memory_opt_) {
      run_spec_.memory_bytes = parse_size(memory_).value();
    }
    if (*cpus_opt_) {
      run_spec_.cpus = cpus_;
    }
    if (*network_opt_) {
      run_spec_.network = network_;
    }
    return engines(engines_conn_, run_request(run_spec_), EnginesCall::one, output, out, err);
  }
  if (*engines_ls_) {
    return engines(engines_conn_, list_request(), EnginesCall::list, output, out, err);
  }
  if (*engines_show_) {
    return engines(engines_conn_, show_request(game_), EnginesCall::one, output, out, err);
  }
  if (*engines_stop_) {
    std::optional<std::int64_t> timeout_s;
    if (*stop_timeout_opt_) {
      const auto t = parse_duration(stop_timeout_).value();
      timeout_s = (t.count() + 999) / 1000;
      // The daemon waits that long for the engine before it answers.
      constexpr std::chrono::seconds kMargin{30};
      engines_conn_.timeouts.request = std::max(
          engines_conn_.timeouts.request, std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::seconds(*timeout_s) + kMargin));
    }
    return engines(engines_conn_, stop_request(game_, timeout_s), EnginesCall::one, output, out,
                   err);
  }
  if (*engines_restart_) {
    return engines(engines_conn_, restart_request(game_), EnginesCall::one, output, out, err);
  }
  return engines(engines_conn_, remove_request(game_), EnginesCall::one, output, out, err);
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
  if (*engines_) {
    return run_engines(out, err, color);
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
  if (*web_) {
    web::WebRun run;
    run.settings.listen = web_listen_;
    run.settings.token_file = web_token_file_;
    run.settings.stream = conn_.stream;
    run.redis_url = conn_.redis_url;
    run.postgres_url = conn_.postgres_url;
    run.connect_timeout = conn_.connect_timeout;
    run.command_timeout = conn_.command_timeout;
    return web::run_web(run, stop, out, err);
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
