#include "galaxy/daemon/options.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>

#include "galaxy/common/duration.hpp"
#include "galaxy/common/listen_address.hpp"
#include "galaxy/daemon/identity.hpp"

namespace galaxy::daemon {

namespace {

// One flag helper per kind of value, so each flag is one line of the table below: the name, its
// environment variable, its help, and the settings field it writes (whose value is the default).
class Flags {
 public:
  explicit Flags(CLI::App& app) : app_(app) {}

  template <class T>
  CLI::Option* value(const std::string& name, const std::string& env, const std::string& help,
                     T& target) {
    return app_.add_option(name, target, help)->envname(env)->capture_default_str();
  }

  // Durations are written 250ms, 2s, 1m, 1h; a typo fails at start and names the flag.
  CLI::Option* duration(const std::string& name, const std::string& env, const std::string& help,
                        std::chrono::milliseconds& target) {
    const CLI::Validator duration_check(
        [](const std::string& text) {
          auto d = parse_duration(text);
          return d ? std::string() : d.error().message();
        },
        "DURATION");
    // The validator has checked the text before the callback converts it.
    return app_
        .add_option_function<std::string>(
            name, [&target](const std::string& text) { target = parse_duration(text).value(); },
            help)
        ->envname(env)
        ->check(duration_check)
        ->default_str(format_duration(target));
  }

 private:
  CLI::App& app_;
};

}  // namespace

void add_serve_flags(CLI::App& serve, DaemonSettings& s, std::string& config_file) {
  // A flag given twice takes its last value, as wrappers that append overrides expect.
  serve.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  Flags f(serve);
  f.value("--sink", "GALAXY_RM_SINK",
          "Where events go: durable (Redis stream + PostgreSQL, exactly once) or stdout (one "
          "payload JSON line each, for debugging)",
          s.sink)
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, SinkKind>{{"durable", SinkKind::durable},
                                          {"stdout", SinkKind::stdout_lines}},
          CLI::ignore_case))
      ->default_str(s.sink == SinkKind::durable ? "durable" : "stdout");
  f.value("--redis-url", "GALAXY_REDIS_URL",
          "redis://[user:password@]host:port[/db], unix:///path[?db=N], "
          "redis-sentinel://[user:password@]host:port[,host:port...]/master_name[?db=N] or "
          "redis-cluster://[user:password@]host:port[,host:port...]",
          s.durable.redis_url);
  f.value("--redis-wait-replicas", "GALAXY_RM_REDIS_WAIT_REPLICAS",
          "After each batch of XADDs, WAIT until this many replicas have it before its outbox "
          "rows are confirmed (0: the master's answer is enough; 1 or more: a failover loses "
          "nothing)",
          s.durable.wait_replicas)
      ->check(CLI::Range(0, 64));
  f.duration("--redis-wait-timeout", "GALAXY_RM_REDIS_WAIT_TIMEOUT",
             "How long one WAIT waits for the replicas; a batch they did not acknowledge stays "
             "in the outbox and is sent again",
             s.durable.wait_timeout)
      ->check(CLI::Validator(
          [](const std::string& v) -> std::string {
            const auto d = parse_duration(v);
            return d && *d >= std::chrono::milliseconds(10) && *d <= std::chrono::minutes(1)
                       ? ""
                       : "must be a duration from 10ms to 1m";
          },
          "DURATION"));
  f.value("--postgres-url", "GALAXY_POSTGRES_URL", "A libpq URI or conninfo string",
          s.durable.postgres_url);
  f.value("--stream", "GALAXY_STREAM", "Redis stream key", s.durable.stream);
  f.value("--stream-maxlen", "GALAXY_RM_STREAM_MAXLEN",
          "Retention: XADD MAXLEN ~ this many entries", s.durable.stream_maxlen)
      ->check(CLI::Range(std::size_t{1000}, std::size_t{1} << 40));
  f.value("--queue-capacity", "GALAXY_RM_QUEUE_CAPACITY",
          "Events held in memory while PostgreSQL is slow or down", s.durable.queue_capacity)
      ->check(CLI::Range(std::size_t{100}, std::size_t{100'000'000}));
  f.value("--docker-host", "DOCKER_HOST", "Docker daemon: unix:///path or tcp://host:port",
          s.docker.host);
  f.value("--state-dir", "GALAXY_RM_STATE_DIR", "Directory for the daemon's durable state",
          s.state_dir);
  f.value("--host-id", "GALAXY_RM_HOST_ID",
          "The Docker host this daemon serves (default: a UUID made once in the state dir); "
          "daemons given the same one are one active and hot standbys",
          s.host_id)
      ->check(CLI::Validator(
          [](const std::string& text) {
            auto ok = check_host_id(text);
            return ok ? std::string() : ok.error().reason;
          },
          "ID"));
  f.duration("--lease-ttl", "GALAXY_RM_LEASE_TTL",
             "How long the host's lease lasts unrenewed (renewed every third of it): a standby "
             "takes over at most this long after the active daemon dies",
             s.lease.ttl)
      ->check(CLI::Validator(
          [](const std::string& text) {
            auto d = parse_duration(text);
            return d && *d >= std::chrono::seconds(3) && *d <= std::chrono::minutes(10)
                       ? std::string()
                       : std::string("a lease TTL is between 3s and 10m");
          },
          "DURATION"));
  f.duration("--adopt-after", "GALAXY_RM_ADOPT_AFTER",
             "Relay the outbox rows a host left when its lease lapsed this long ago and no daemon "
             "took it back (0s: never)",
             s.adopt_after);
  f.value("--api-listen", "GALAXY_RM_API_LISTEN",
          "Where the engine API listens: unix:PATH or HOST:PORT (\"\" turns it off)", s.api.listen)
      ->check(CLI::Validator(
          [](const std::string& text) {
            if (text.empty() || text.rfind("unix:", 0) == 0) {
              return std::string();
            }
            auto a = parse_listen_address(text);
            return a ? std::string() : a.error().message();
          },
          "unix:PATH|HOST:PORT"));
  serve
      .add_flag("--api-allow-remote", s.api.allow_remote,
                "Let the engine API listen on a non-loopback address (it is as powerful as the "
                "Docker socket: see the README)")
      ->envname("GALAXY_RM_API_ALLOW_REMOTE");
  f.value("--api-token-file", "GALAXY_RM_API_TOKEN_FILE",
          "Bearer tokens of the engine API, one 'NAME TOKEN' per line (required for HOST:PORT)",
          s.api.token_file);
  serve
      .add_option("--engine-image-prefix", s.engine_image_prefixes,
                  "Only images starting with this may run (repeatable; none: any image)")
      ->envname("GALAXY_RM_ENGINE_IMAGE_PREFIX")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->delimiter(',');
  f.value("--label-game-id", "GALAXY_RM_LABEL_GAME_ID", "Label that marks a game engine container",
          s.watcher.model.labels.game_id);
  serve
      .add_option("--network", s.watcher.network,
                  "Network whose IP is probed (default: the first network with an IP)")
      ->envname("GALAXY_RM_NETWORK");
  f.duration("--probe-interval", "GALAXY_RM_PROBE_INTERVAL", "Time between probes (250ms, 2s, 1m)",
             s.probes.interval);
  f.duration("--probe-timeout", "GALAXY_RM_PROBE_TIMEOUT", "Deadline of one probe",
             s.probes.probe.timeout);
  f.duration("--probe-batch-window", "GALAXY_RM_PROBE_BATCH_WINDOW",
             "Probes due within this window start together (0ms: each at its own slot)",
             s.probes.batch_window);
  f.value("--probe-failure-threshold", "GALAXY_RM_PROBE_FAILURE_THRESHOLD",
          "Consecutive failures that emit probe_failed", s.probes.thresholds.failure)
      ->check(CLI::Range(1, 1000));
  f.value("--probe-success-threshold", "GALAXY_RM_PROBE_SUCCESS_THRESHOLD",
          "Consecutive successes that emit probe_recovered", s.probes.thresholds.success)
      ->check(CLI::Range(1, 1000));
  f.duration("--start-grace", "GALAXY_RM_START_GRACE", "Wait after a start before the first probe",
             s.probes.start_grace);
  f.duration("--inspect-interval", "GALAXY_RM_INSPECT_INTERVAL", "Time between inspect rounds",
             s.watcher.inspect_interval);
  f.duration("--oom-window", "GALAXY_RM_OOM_WINDOW",
             "How long an oom and its die wait for each other", s.watcher.model.oom_window);
  f.duration("--shutdown-timeout", "GALAXY_RM_SHUTDOWN_TIMEOUT", "Bound on a graceful stop",
             s.shutdown_timeout);
  f.value("--admin-listen", "GALAXY_RM_ADMIN_LISTEN",
          "HOST:PORT of /metrics, /livez and /readyz (\"\" turns it off)", s.admin.listen)
      ->check(CLI::Validator(
          [](const std::string& text) {
            if (text.empty()) {
              return std::string();
            }
            auto a = parse_listen_address(text);
            return a ? std::string() : a.error().message();
          },
          "HOST:PORT"));
  f.value("--log-level", "GALAXY_RM_LOG_LEVEL", "trace, debug, info, warn, error", s.log_level)
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  f.value("--log-format", "GALAXY_RM_LOG_FORMAT",
          "auto (text on a terminal or under journald, else JSON lines), text or json",
          s.log_format)
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, LogFormat>{
              {"auto", LogFormat::automatic}, {"text", LogFormat::text}, {"json", LogFormat::json}},
          CLI::ignore_case))
      ->default_str("auto");
  serve.add_option("--config", config_file, "TOML file of serve flags (keys without '--')")
      ->envname("GALAXY_RM_CONFIG");
}

std::vector<std::string> config_args(const CLI::App& serve, const std::string& file) {
  toml::table table;
  try {
    table = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    throw CLI::ValidationError("--config", file + ": " + std::string(e.description()) + " (line " +
                                               std::to_string(e.source().begin.line) + ")");
  }
  std::vector<std::string> args;
  for (const auto& [key, node] : table) {
    const std::string flag = "--" + std::string(key.str());
    const CLI::Option* opt = serve.get_option_no_throw(flag);
    if (opt == nullptr || flag == "--config") {
      throw CLI::ValidationError("--config", file + ": unknown key '" + std::string(key.str()) +
                                                 "' (keys are serve's flags without '--')");
    }
    const std::string env = opt->get_envname();
    // Start-up, one thread: getenv is safe here.
    if (!env.empty() && std::getenv(env.c_str()) != nullptr) {  // NOLINT(concurrency-mt-unsafe)
      continue;
    }
    std::string value;
    if (const auto* str = node.as_string()) {
      value = str->get();
    } else if (const auto* i = node.as_integer()) {
      value = std::to_string(i->get());
    } else if (const auto* b = node.as_boolean()) {
      value = b->get() ? "true" : "false";
    } else {
      throw CLI::ValidationError("--config", file + ": key '" + std::string(key.str()) +
                                                 "' must be a string, integer or boolean");
    }
    args.push_back(flag);
    args.push_back(value);
  }
  return args;
}

void parse_command_line(CLI::App& app, CLI::App& serve, std::vector<std::string> args,
                        const std::string& env_config) {
  // The config file is read before the real parse so its values can sit under the flags.
  std::string file = env_config;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      file = args[i + 1];
    } else if (args[i].rfind("--config=", 0) == 0) {
      file = args[i].substr(9);
    }
  }
  if (!args.empty() && args[0] == serve.get_name() && !file.empty()) {
    auto extra = config_args(serve, file);
    args.insert(args.begin() + 1, extra.begin(), extra.end());
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
  app.parse(args);
}

}  // namespace galaxy::daemon
