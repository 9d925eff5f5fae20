// runtime-manager: watches game-engine containers and publishes their health events.
// Only wiring: flags -> settings structs -> the module objects on one io_context.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>

#include "galaxy/common/duration.hpp"
#include "galaxy/docker/client.hpp"
#include "galaxy/publish/stdout_sink.hpp"
#include "galaxy/sources/probe_scheduler.hpp"
#include "galaxy/sources/watcher.hpp"

namespace {

namespace asio = boost::asio;
using galaxy::sources::ProbeEndpoint;

struct ServeOptions {
  std::string sink = "stdout";
  std::string docker_host = "unix:///var/run/docker.sock";
  std::string state_dir = "/var/lib/galaxy-runtime-manager";
  std::string label_game_id = "galaxy.game_id";
  std::string network;
  std::string probe_interval = "5s";
  std::string probe_timeout = "1s";
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
  explicit SchedulerControl(galaxy::sources::ProbeScheduler& scheduler) : scheduler_(scheduler) {}
  void start(const std::string& id, const ProbeEndpoint& e) override {
    if (auto r = scheduler_.add(id, e.ip, e.port, e.path); !r) {
      spdlog::warn("cannot probe container {}: {}", id.substr(0, 12), r.error().message());
    }
  }
  void stop(const std::string& id) override { scheduler_.remove(id); }

 private:
  galaxy::sources::ProbeScheduler& scheduler_;
};

std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& value) {
  auto d = galaxy::parse_duration(value);
  if (!d) {
    throw CLI::ValidationError(flag, d.error().message());
  }
  return *d;
}

int serve(const ServeOptions& o) {
  auto logger = spdlog::stderr_color_mt("runtime-manager");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(o.log_level));

  galaxy::sources::WatcherSettings ws;
  ws.model.labels.game_id = o.label_game_id;
  ws.model.oom_window = duration_flag("--oom-window", o.oom_window);
  ws.network = o.network;
  ws.inspect_interval = duration_flag("--inspect-interval", o.inspect_interval);

  galaxy::sources::ProbeSchedulerSettings ps;
  ps.interval = duration_flag("--probe-interval", o.probe_interval);
  ps.start_grace = duration_flag("--start-grace", o.start_grace);
  ps.probe.timeout = duration_flag("--probe-timeout", o.probe_timeout);
  ps.thresholds.failure = o.probe_failure_threshold;
  ps.thresholds.success = o.probe_success_threshold;
  const auto shutdown_timeout = duration_flag("--shutdown-timeout", o.shutdown_timeout);

  galaxy::docker::DockerClientSettings ds;
  ds.host = o.docker_host;

  std::filesystem::create_directories(o.state_dir);

  asio::io_context ioc(1);
  galaxy::SystemClock clock;
  galaxy::docker::DockerClient docker(ioc.get_executor(), ds);
  galaxy::publish::StdoutSink sink;
  galaxy::sources::FileStateStore store(std::filesystem::path(o.state_dir) / "watcher-state.json");
  galaxy::sources::NoRemovalIntents removals;

  galaxy::sources::Watcher* watcher_ptr = nullptr;
  galaxy::sources::ProbeScheduler scheduler(
      ioc.get_executor(), clock, ps,
      [&watcher_ptr](const std::string& id, const galaxy::contract::Details& d, std::int64_t at) {
        watcher_ptr->probe_verdict(id, d, at);
      });
  SchedulerControl probes(scheduler);
  galaxy::sources::Watcher watcher(ioc.get_executor(), clock, docker, sink, store, removals, probes,
                                   ws);
  watcher_ptr = &watcher;

  spdlog::info("watching containers labelled {} on {}; state in {}", o.label_game_id, o.docker_host,
               o.state_dir);

  asio::cancellation_signal cancel;
  int exit_code = 0;
  bool done = false;
  asio::co_spawn(ioc, watcher.run(),
                 asio::bind_cancellation_slot(cancel.slot(), [&](const std::exception_ptr& e) {
                   done = true;
                   scheduler.stop();
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
  sink.stop(shutdown_timeout);
  spdlog::info("stopped: {} events written, {} dropped", sink.written(), sink.dropped());
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"runtime-manager: health events of Galaxy game-engine containers"};
  app.require_subcommand(1);
  ServeOptions o;
  auto* s = app.add_subcommand("serve", "Watch containers and publish health events");
  // A flag given twice takes its last value, as wrappers that append overrides expect.
  s->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  s->add_option("--sink", o.sink, "Where events go: stdout (one payload JSON line each)")
      ->envname("GALAXY_RM_SINK")
      ->check(CLI::IsMember({"stdout"}))
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
      ->capture_default_str();
  s->add_option("--probe-timeout", o.probe_timeout, "Deadline of one probe")
      ->envname("GALAXY_RM_PROBE_TIMEOUT")
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
      ->capture_default_str();
  s->add_option("--inspect-interval", o.inspect_interval, "Time between inspect rounds")
      ->envname("GALAXY_RM_INSPECT_INTERVAL")
      ->capture_default_str();
  s->add_option("--oom-window", o.oom_window, "How long an oom waits for its die")
      ->envname("GALAXY_RM_OOM_WINDOW")
      ->capture_default_str();
  s->add_option("--shutdown-timeout", o.shutdown_timeout, "Bound on a graceful stop")
      ->envname("GALAXY_RM_SHUTDOWN_TIMEOUT")
      ->capture_default_str();
  s->add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
      ->envname("GALAXY_RM_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
    // Durations are checked up front so a typo fails at start, naming the flag.
    for (const auto& [flag, value] : {std::pair{"--probe-interval", o.probe_interval},
                                      {"--probe-timeout", o.probe_timeout},
                                      {"--start-grace", o.start_grace},
                                      {"--inspect-interval", o.inspect_interval},
                                      {"--oom-window", o.oom_window},
                                      {"--shutdown-timeout", o.shutdown_timeout}}) {
      duration_flag(flag, value);
    }
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
