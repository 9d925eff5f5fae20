// runtime-manager: watches game-engine containers and publishes their health events.
// Only wiring: flags -> settings structs -> the module objects on one io_context.
#include <fcntl.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <toml++/toml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>

#include "galaxy/common/duration.hpp"
#include "galaxy/docker/client.hpp"
#include "galaxy/probe/scheduler.hpp"
#include "galaxy/publish/durable_sink.hpp"
#include "galaxy/publish/stdout_sink.hpp"
#include "galaxy/sources/watcher.hpp"

namespace {

namespace asio = boost::asio;
using galaxy::sources::ProbeEndpoint;

struct ServeOptions {
  std::string sink = "durable";
  std::string redis_url = "redis://127.0.0.1:6379";
  std::string postgres_url = "postgresql:///galaxy";
  std::string stream = "runtime:health_events";
  std::size_t stream_maxlen = 1'000'000;
  std::size_t queue_capacity = 100'000;
  std::string docker_host = "unix:///var/run/docker.sock";
  std::string state_dir = "/var/lib/galaxy-runtime-manager";
  std::string label_game_id = "galaxy.game_id";
  std::string network;
  std::string probe_interval = "5s";
  std::string probe_timeout = "1s";
  std::string probe_batch_window = "5ms";
  int probe_failure_threshold = 3;
  int probe_success_threshold = 1;
  std::string start_grace = "10s";
  std::string inspect_interval = "10s";
  std::string oom_window = "2s";
  std::string shutdown_timeout = "5s";
  std::string log_level = "info";
};

// Adapts the prober's scheduler to the watcher's ProbeControl seam.
class SchedulerControl final : public galaxy::sources::ProbeControl {
 public:
  explicit SchedulerControl(galaxy::probe::ProbeScheduler& scheduler) : scheduler_(scheduler) {}
  void start(const std::string& id, const ProbeEndpoint& e) override {
    if (auto r = scheduler_.add(id, e.ip, e.port, e.path); !r) {
      spdlog::warn("cannot probe container {}: {}", id.substr(0, 12), r.error().message());
    }
  }
  void stop(const std::string& id) override { scheduler_.remove(id); }

 private:
  galaxy::probe::ProbeScheduler& scheduler_;
};

// In durable mode the sources' memory lives in PostgreSQL beside the events (it is written with
// them, transition by transition); loading is the sink's, saving is nothing to do here.
class DurableStateStore final : public galaxy::sources::StateStore {
 public:
  explicit DurableStateStore(galaxy::publish::DurableSink& sink) : sink_(sink) {}
  galaxy::Result<std::optional<galaxy::sources::ModelState>> load() override {
    auto records = sink_.load_state(std::chrono::seconds(10));
    if (!records) {
      return records.error();
    }
    auto state = galaxy::sources::state_from_records(*records);
    if (!state) {
      return state.error();
    }
    return std::optional<galaxy::sources::ModelState>(std::move(*state));
  }
  galaxy::Result<void> save(const galaxy::sources::ModelState& /*state*/) override { return {}; }
  bool wants_snapshots() const override { return false; }

 private:
  galaxy::publish::DurableSink& sink_;
};

// The flags were checked by the parser (kDuration in main); this only converts.
std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& value) {
  auto d = galaxy::parse_duration(value);
  if (!d) {
    throw CLI::ValidationError(flag, d.error().message());
  }
  return *d;
}

int serve(const ServeOptions& o) {
  auto logger = spdlog::stderr_color_mt("runtime-manager");
  // Microseconds: event timing questions (how long after dockerd's stamp an event reached us) are
  // answered from the log.
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%f] [%n] [%^%l%$] %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(o.log_level));

  galaxy::sources::WatcherSettings ws;
  ws.model.labels.game_id = o.label_game_id;
  ws.model.oom_window = duration_flag("--oom-window", o.oom_window);
  ws.network = o.network;
  ws.inspect_interval = duration_flag("--inspect-interval", o.inspect_interval);

  galaxy::probe::ProbeSchedulerSettings ps;
  ps.interval = duration_flag("--probe-interval", o.probe_interval);
  ps.start_grace = duration_flag("--start-grace", o.start_grace);
  ps.probe.timeout = duration_flag("--probe-timeout", o.probe_timeout);
  ps.batch_window = duration_flag("--probe-batch-window", o.probe_batch_window);
  ps.thresholds.failure = o.probe_failure_threshold;
  ps.thresholds.success = o.probe_success_threshold;
  const auto shutdown_timeout = duration_flag("--shutdown-timeout", o.shutdown_timeout);

  galaxy::docker::DockerClientSettings ds;
  ds.host = o.docker_host;

  std::filesystem::create_directories(o.state_dir);
  // One daemon per state dir: two would each report every fact, and fight over the state file.
  const auto lock_path = std::filesystem::path(o.state_dir) / "runtime-manager.lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    throw std::runtime_error("another runtime-manager is running with --state-dir " + o.state_dir +
                             " (lock " + lock_path.string() + " is held)");
  }

  asio::io_context ioc(1);
  galaxy::SystemClock clock;
  galaxy::docker::DockerClient docker(ioc.get_executor(), ds);
  galaxy::sources::NoRemovalIntents removals;

  std::unique_ptr<galaxy::publish::StdoutSink> stdout_sink;
  std::unique_ptr<galaxy::publish::DurableSink> durable_sink;
  std::unique_ptr<galaxy::sources::StateStore> store;
  galaxy::contract::TransitionSink* sink = nullptr;
  galaxy::sources::Watcher* watcher_ptr = nullptr;
  if (o.sink == "stdout") {
    stdout_sink = std::make_unique<galaxy::publish::StdoutSink>();
    sink = stdout_sink.get();
    store = std::make_unique<galaxy::sources::FileStateStore>(std::filesystem::path(o.state_dir) /
                                                              "watcher-state.json");
  } else {
    galaxy::publish::DurableSinkSettings dss;
    dss.redis_url = o.redis_url;
    dss.postgres_url = o.postgres_url;
    dss.stream = o.stream;
    dss.stream_maxlen = o.stream_maxlen;
    dss.queue_capacity = o.queue_capacity;
    // Called on the sink's thread: hop onto the loop, where the watcher lives.
    dss.on_resync_needed = [&ioc, &watcher_ptr, &durable_sink] {
      asio::post(ioc, [&watcher_ptr, &durable_sink] {
        if (watcher_ptr != nullptr) {
          watcher_ptr->request_reload();
          durable_sink->resync_done();
        }
      });
    };
    durable_sink = std::make_unique<galaxy::publish::DurableSink>(std::move(dss));
    sink = durable_sink.get();
    store = std::make_unique<DurableStateStore>(*durable_sink);
  }

  // The memory must load before the watcher starts; PostgreSQL may still be coming up, so a
  // failure is logged and retried (SIGTERM still ends the process at once in this phase).
  for (unsigned attempt = 0;; ++attempt) {
    auto state = store->load();
    if (state) {
      break;
    }
    const auto wait = std::chrono::milliseconds(std::min(10'000, 250 << std::min(attempt, 6U)));
    spdlog::error("cannot load state: {}; retrying in {} ms", state.error().message(),
                  wait.count());
    std::this_thread::sleep_for(wait);
  }
  if (durable_sink) {
    durable_sink->start();
  }

  galaxy::probe::ProbeScheduler scheduler(
      ioc.get_executor(), clock, ps,
      [&watcher_ptr](const std::string& id, const galaxy::contract::Details& d, std::int64_t at) {
        watcher_ptr->probe_verdict(id, d, at);
      });
  SchedulerControl probes(scheduler);
  galaxy::sources::Watcher watcher(ioc.get_executor(), clock, docker, *sink, *store, removals,
                                   probes, ws);
  watcher_ptr = &watcher;

  spdlog::info("watching containers labelled {} on {}; state in {}", o.label_game_id, o.docker_host,
               o.state_dir);

  // A line a minute of what the daemon is doing, for operators and their log pipelines.
  asio::steady_timer stats_timer(ioc);
  std::function<void()> log_stats = [&] {
    stats_timer.expires_after(std::chrono::minutes(1));
    stats_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) {
        return;
      }
      const auto& w = watcher.stats();
      const auto p = scheduler.stats();
      std::string sink_line;
      if (durable_sink) {
        const auto d = durable_sink->stats();
        sink_line = fmt::format("committed={} relayed={} queued={} dropped={} overflowed={}",
                                d.events_committed, d.events_relayed, d.queued, d.dropped_events,
                                d.overflowed);
      } else {
        sink_line =
            fmt::format("written={} dropped={}", stdout_sink->written(), stdout_sink->dropped());
      }
      spdlog::info(
          "stats: watched={} docker_events={} bad_lines={} reconnects={} inspects={} "
          "inspect_errors={} probe_targets={} probes={} probe_rounds_missed={} lag_p99_ms={} {}",
          watcher.watched(), w.events, w.bad_lines, w.reconnects, w.inspects, w.inspect_errors,
          p.targets, p.probes_started, p.rounds_missed, p.lag_quantile_ms(0.99), sink_line);
      log_stats();
    });
  };
  log_stats();

  asio::cancellation_signal cancel;
  int exit_code = 0;
  bool done = false;
  asio::co_spawn(ioc, watcher.run(),
                 asio::bind_cancellation_slot(cancel.slot(), [&](const std::exception_ptr& e) {
                   done = true;
                   scheduler.stop();
                   stats_timer.cancel();
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::critical("watcher failed: {}", ex.what());
                       exit_code = 1;
                     }
                   }
                   ioc.stop();
                 }));

  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  asio::steady_timer deadline(ioc);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) {
      return;
    }
    spdlog::info("signal {}: stopping (at most {} ms)", sig, shutdown_timeout.count());
    scheduler.stop();
    stats_timer.cancel();
    cancel.emit(asio::cancellation_type::terminal);
    deadline.expires_after(shutdown_timeout);
    deadline.async_wait([&](const boost::system::error_code& tec) {
      if (!tec && !done) {
        spdlog::error("shutdown deadline passed; exiting with work in flight");
        exit_code = 1;
        ioc.stop();
      }
    });
  });

  ioc.run();
  watcher_ptr = nullptr;
  if (stdout_sink) {
    stdout_sink->stop(shutdown_timeout);
    spdlog::info("stopped: {} events written, {} dropped", stdout_sink->written(),
                 stdout_sink->dropped());
  } else {
    durable_sink->stop(shutdown_timeout);
    const auto st = durable_sink->stats();
    spdlog::info("stopped: {} events committed, {} relayed, {} queued, {} dropped",
                 st.events_committed, st.events_relayed, st.queued, st.dropped_events);
  }
  return exit_code;
}

}  // namespace

// `--config FILE` (or GALAXY_RM_CONFIG): a TOML file whose keys are the serve flags without the
// leading dashes (`probe-interval = "2s"`, `queue-capacity = 200000`). Its values go in as if given
// first on the command line, so real flags override them; a flag whose environment variable is
// set is taken from the environment instead. Precedence: flags > environment > file > defaults.
std::vector<std::string> config_args(CLI::App& serve, const std::string& file) {
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

int main(int argc, char** argv) {
  // Every duration flag is checked while parsing, so a typo fails at start and names the flag.
  const CLI::Validator kDuration(
      [](const std::string& value) {
        auto d = galaxy::parse_duration(value);
        return d ? std::string() : d.error().message();
      },
      "DURATION");
  CLI::App app{"runtime-manager: health events of Galaxy game-engine containers"};
  app.require_subcommand(1);
  ServeOptions o;
  auto* s = app.add_subcommand("serve", "Watch containers and publish health events");
  // A flag given twice takes its last value, as wrappers that append overrides expect.
  s->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  s->add_option("--sink", o.sink,
                "Where events go: durable (Redis stream + PostgreSQL, exactly once) or stdout "
                "(one payload JSON line each, for debugging)")
      ->envname("GALAXY_RM_SINK")
      ->check(CLI::IsMember({"durable", "stdout"}))
      ->capture_default_str();
  s->add_option("--redis-url", o.redis_url,
                "redis://[user:password@]host:port[/db] or unix:///path[?db=N]")
      ->envname("GALAXY_REDIS_URL")
      ->capture_default_str();
  s->add_option("--postgres-url", o.postgres_url, "A libpq URI or conninfo string")
      ->envname("GALAXY_POSTGRES_URL")
      ->capture_default_str();
  s->add_option("--stream", o.stream, "Redis stream key")
      ->envname("GALAXY_STREAM")
      ->capture_default_str();
  s->add_option("--stream-maxlen", o.stream_maxlen, "Retention: XADD MAXLEN ~ this many entries")
      ->envname("GALAXY_RM_STREAM_MAXLEN")
      ->check(CLI::Range(std::size_t{1000}, std::size_t{1} << 40))
      ->capture_default_str();
  s->add_option("--queue-capacity", o.queue_capacity,
                "Events held in memory while PostgreSQL is slow or down")
      ->envname("GALAXY_RM_QUEUE_CAPACITY")
      ->check(CLI::Range(std::size_t{100}, std::size_t{100'000'000}))
      ->capture_default_str();
  s->add_option("--docker-host", o.docker_host, "Docker daemon: unix:///path or tcp://host:port")
      ->envname("DOCKER_HOST")
      ->capture_default_str();
  s->add_option("--state-dir", o.state_dir, "Directory for the daemon's durable state")
      ->envname("GALAXY_RM_STATE_DIR")
      ->capture_default_str();
  s->add_option("--label-game-id", o.label_game_id, "Label that marks a game engine container")
      ->envname("GALAXY_RM_LABEL_GAME_ID")
      ->capture_default_str();
  s->add_option("--network", o.network,
                "Network whose IP is probed (default: the first network with an IP)")
      ->envname("GALAXY_RM_NETWORK");
  s->add_option("--probe-interval", o.probe_interval, "Time between probes (250ms, 2s, 1m)")
      ->envname("GALAXY_RM_PROBE_INTERVAL")
      ->check(kDuration)
      ->capture_default_str();
  s->add_option("--probe-timeout", o.probe_timeout, "Deadline of one probe")
      ->envname("GALAXY_RM_PROBE_TIMEOUT")
      ->check(kDuration)
      ->capture_default_str();
  s->add_option("--probe-batch-window", o.probe_batch_window,
                "Probes due within this window start together (0ms: each at its own slot)")
      ->envname("GALAXY_RM_PROBE_BATCH_WINDOW")
      ->check(kDuration)
      ->capture_default_str();
  s->add_option("--probe-failure-threshold", o.probe_failure_threshold,
                "Consecutive failures that emit probe_failed")
      ->envname("GALAXY_RM_PROBE_FAILURE_THRESHOLD")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  s->add_option("--probe-success-threshold", o.probe_success_threshold,
                "Consecutive successes that emit probe_recovered")
      ->envname("GALAXY_RM_PROBE_SUCCESS_THRESHOLD")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  s->add_option("--start-grace", o.start_grace, "Wait after a start before the first probe")
      ->envname("GALAXY_RM_START_GRACE")
      ->check(kDuration)
      ->capture_default_str();
  s->add_option("--inspect-interval", o.inspect_interval, "Time between inspect rounds")
      ->envname("GALAXY_RM_INSPECT_INTERVAL")
      ->check(kDuration)
      ->capture_default_str();
  s->add_option("--oom-window", o.oom_window, "How long an oom waits for its die")
      ->envname("GALAXY_RM_OOM_WINDOW")
      ->check(kDuration)
      ->capture_default_str();
  s->add_option("--shutdown-timeout", o.shutdown_timeout, "Bound on a graceful stop")
      ->envname("GALAXY_RM_SHUTDOWN_TIMEOUT")
      ->check(kDuration)
      ->capture_default_str();
  s->add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
      ->envname("GALAXY_RM_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  std::string config_file;
  s->add_option("--config", config_file, "TOML file of serve flags (keys without '--')")
      ->envname("GALAXY_RM_CONFIG");
  try {
    // The config file is read before the real parse so its values can sit under the flags.
    std::vector<std::string> args(argv + 1, argv + argc);
    const char* env_config = std::getenv("GALAXY_RM_CONFIG");  // NOLINT(concurrency-mt-unsafe)
    std::string file = env_config != nullptr ? env_config : "";
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--config") {
        file = args[i + 1];
      } else if (args[i].rfind("--config=", 0) == 0) {
        file = args[i].substr(9);
      }
    }
    if (args.size() >= 1 && args[0] == "serve" && !file.empty()) {
      auto extra = config_args(*s, file);
      args.insert(args.begin() + 1, extra.begin(), extra.end());
    }
    std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  try {
    return serve(o);
  } catch (const std::exception& e) {
    std::cerr << "runtime-manager: " << e.what() << "\n";
    return 1;
  }
}
