#include "galaxy/daemon/daemon.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <filesystem>
#include <optional>
#include <thread>

#include "galaxy/admin/health.hpp"
#include "galaxy/admin/process.hpp"
#include "galaxy/admin/server.hpp"
#include "galaxy/common/backoff.hpp"
#include "galaxy/common/build_info.hpp"
#include "galaxy/daemon/sd_notify.hpp"
#include "galaxy/daemon/stats.hpp"
#include "galaxy/publish/stdout_sink.hpp"
#include "galaxy/sources/state_store.hpp"

namespace galaxy::daemon {

namespace asio = boost::asio;

namespace {

// One daemon per state dir: two would each report every fact, and fight over the state file. The
// lock lives as long as the Daemon; the fd is closed (and the lock released) with it.
class StateDirLock {
 public:
  explicit StateDirLock(const std::string& state_dir) {
    std::filesystem::create_directories(state_dir);
    const auto path = std::filesystem::path(state_dir) / "runtime-manager.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC,
                 0644);  // NOLINT(cppcoreguidelines-pro-type-vararg)
    if (fd_ < 0 || ::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (fd_ >= 0) {
        ::close(fd_);
      }
      throw std::runtime_error("another runtime-manager is running with --state-dir " + state_dir +
                               " (lock " + path.string() + " is held)");
    }
  }
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;
  ~StateDirLock() { ::close(fd_); }

 private:
  int fd_ = -1;
};

// Adapts the prober's scheduler to the watcher's ProbeControl seam.
class SchedulerControl final : public sources::ProbeControl {
 public:
  explicit SchedulerControl(probe::ProbeScheduler& scheduler) : scheduler_(scheduler) {}
  void start(const std::string& id, const sources::ProbeEndpoint& e) override {
    if (auto r = scheduler_.add(id, e.ip, e.port, e.path); !r) {
      spdlog::warn("cannot probe container {}: {}", id.substr(0, 12), r.error().message());
    }
  }
  void stop(const std::string& id) override { scheduler_.remove(id); }

 private:
  probe::ProbeScheduler& scheduler_;
};

// Counts the events the sources hand to the sink, by type, for /metrics. On the loop's thread.
class CountingSink final : public contract::TransitionSink {
 public:
  void forward_to(contract::TransitionSink& next) { next_ = &next; }
  void apply(contract::Transition t) override {
    for (const auto& e : t.events) {
      ++emitted_[static_cast<std::size_t>(e.type())];
    }
    next_->apply(std::move(t));
  }
  const std::array<std::uint64_t, contract::kEventTypeCount>& emitted() const { return emitted_; }

 private:
  contract::TransitionSink* next_ = nullptr;
  std::array<std::uint64_t, contract::kEventTypeCount> emitted_{};
};

// In durable mode the sources' memory lives in PostgreSQL beside the events (it is written with
// them, transition by transition); loading is the sink's, saving is nothing to do here.
class DurableStateStore final : public sources::StateStore {
 public:
  explicit DurableStateStore(publish::DurableSink& sink) : sink_(sink) {}
  Result<std::optional<sources::ModelState>> load() override {
    auto records = sink_.load_state(std::chrono::seconds(10));
    if (!records) {
      return records.error();
    }
    auto state = sources::state_from_records(*records);
    if (!state) {
      return state.error();
    }
    return std::optional<sources::ModelState>(std::move(*state));
  }
  Result<void> save(const sources::ModelState& /*state*/) override { return {}; }
  bool wants_snapshots() const override { return false; }

 private:
  publish::DurableSink& sink_;
};

}  // namespace

// Members in construction order; destruction runs backwards, so the watcher and the prober go
// before the sink and store they use, and the loop (with any handler still queued) goes last.
struct Daemon::Parts {
  explicit Parts(DaemonSettings s) : settings(std::move(s)), lock(settings.state_dir) {}

  DaemonSettings settings;
  StateDirLock lock;
  asio::io_context ioc{1};
  SystemClock clock;
  sources::NoRemovalIntents removals;
  std::optional<docker::DockerClient> docker;
  std::unique_ptr<publish::StdoutSink> stdout_sink;
  std::unique_ptr<publish::DurableSink> durable_sink;
  std::unique_ptr<sources::StateStore> store;
  contract::TransitionSink* sink = nullptr;
  CountingSink counting;
  std::optional<probe::ProbeScheduler> scheduler;
  std::optional<SchedulerControl> probes;
  // Engaged for the Daemon's whole life once built; the two callbacks below reach it only on the
  // loop's thread, so they never see it half-built or gone.
  std::optional<sources::Watcher> watcher;
  asio::steady_timer stats_timer{ioc};
  std::optional<admin::AdminServer> admin;
  bool stopping = false;  // SIGTERM seen: /readyz fails from then on
  SystemdNotifier systemd{settings.notify_socket};
  asio::steady_timer watchdog_timer{ioc};

  void build();
  void load_state();
  void start_admin();
  DaemonStats snapshot() const;
  admin::Response readyz(const admin::Request& req) const;
  void log_stats();
  void tell_systemd(const std::string& state);
  void pet_watchdog();
  void stop_sink();
};

void Daemon::Parts::build() {
  docker.emplace(ioc.get_executor(), settings.docker);
  if (settings.sink == SinkKind::stdout_lines) {
    stdout_sink = std::make_unique<publish::StdoutSink>();
    sink = stdout_sink.get();
    store = std::make_unique<sources::FileStateStore>(std::filesystem::path(settings.state_dir) /
                                                      "watcher-state.json");
  } else {
    auto dss = settings.durable;
    // Called on the sink's thread after an overflow: hop onto the loop, where the watcher lives,
    // to reload the memory and resync from Docker.
    dss.on_resync_needed = [this] {
      asio::post(ioc, [this] {
        if (watcher) {
          watcher->request_reload();
          durable_sink->resync_done();
        }
      });
    };
    durable_sink = std::make_unique<publish::DurableSink>(std::move(dss));
    sink = durable_sink.get();
    store = std::make_unique<DurableStateStore>(*durable_sink);
  }
  counting.forward_to(*sink);
  // Verdicts arrive on the loop's thread, after the watcher below exists.
  scheduler.emplace(ioc.get_executor(), clock, settings.probes,
                    [this](const std::string& id, const contract::Details& d, std::int64_t at) {
                      if (watcher) {
                        watcher->probe_verdict(id, d, at);
                      }
                    });
  probes.emplace(*scheduler);
}

// The memory must load before the watcher starts; PostgreSQL may still be coming up, so a failure
// is logged and retried (SIGTERM still ends the process at once in this phase: no handler yet).
void Daemon::Parts::load_state() {
  // No jitter: one daemon waiting for its own database has no fleet to spread out.
  auto backoff = ExponentialBackoff::without_jitter(std::chrono::milliseconds(250),
                                                    std::chrono::milliseconds(10'000));
  for (;;) {
    auto state = store->load();
    if (state) {
      return;
    }
    const auto wait = backoff.next();
    spdlog::error("cannot load state: {}; retrying in {} ms", state.error().message(),
                  wait.count());
    std::this_thread::sleep_for(wait);
  }
}

DaemonStats Daemon::Parts::snapshot() const {
  DaemonStats st;
  if (watcher) {
    st.watcher = watcher->stats();
    st.watched = watcher->watched();
    st.synced = watcher->synced();
    st.docker_up = watcher->docker_up();
  }
  st.probes = scheduler->stats();
  if (durable_sink) {
    st.durable = durable_sink->stats();
    st.queue_capacity = settings.durable.queue_capacity;
  } else {
    st.stdout_sink = StdoutSinkStats{stdout_sink->written(), stdout_sink->dropped()};
  }
  st.emitted = counting.emitted();
  return st;
}

admin::Response Daemon::Parts::readyz(const admin::Request& req) const {
  std::vector<admin::Check> checks;
  checks.push_back({"ping", true, ""});
  checks.push_back({"docker", watcher && watcher->docker_up(), "dockerd does not answer"});
  checks.push_back({"synced", watcher && watcher->synced(), "the first resync is not done"});
  if (durable_sink) {
    const auto d = durable_sink->stats();
    // The sink's last error is in the log and /metrics' error counters; here only who failed.
    checks.push_back({"postgres", d.postgres_up, "PostgreSQL did not answer the sink's last call"});
    checks.push_back({"redis", d.redis_up, "Redis did not answer the relay's last call"});
  }
  checks.push_back({"shutdown", !stopping, "stopping"});
  const auto r = admin::render_health("readyz", checks, req.has("verbose"));
  return {r.status, "text/plain; charset=utf-8", r.body};
}

void Daemon::Parts::start_admin() {
  if (settings.admin.listen.empty()) {
    return;
  }
  admin.emplace(ioc.get_executor(), settings.admin);
  admin->add("/metrics", "Prometheus metrics", [this](const admin::Request&) {
    admin::Exposition out;
    write_metrics(out, snapshot(),
                  BuildInfo{std::string(build_version()), std::string(build_commit())});
    if (const auto proc = admin::read_process_stats()) {
      admin::write_process_metrics(out, *proc);
    }
    return admin::Response{200, std::string(admin::Exposition::kContentType), out.text()};
  });
  admin->add("/livez", "liveness: the daemon's loop answers", [](const admin::Request& req) {
    const auto r = admin::render_health("livez", {{"ping", true, ""}}, req.has("verbose"));
    return admin::Response{r.status, "text/plain; charset=utf-8", r.body};
  });
  admin->add("/readyz", "readiness: watching Docker, first resync done, backends answering",
             [this](const admin::Request& req) { return readyz(req); });
  if (auto r = admin->start(); !r) {
    throw std::runtime_error(r.error().message());
  }
  const auto at = admin->local_endpoint();
  spdlog::info("admin listening on {}:{} (/metrics, /livez, /readyz)", at.address().to_string(),
               at.port());
}

void Daemon::Parts::tell_systemd(const std::string& state) {
  if (auto r = systemd.notify(state); !r) {
    spdlog::warn("{}", r.error().message());
  }
}

// WATCHDOG=1 from the loop itself: a loop that stops turning stops the pings, and systemd
// restarts the service after WatchdogSec.
void Daemon::Parts::pet_watchdog() {
  if (!settings.watchdog_interval) {
    return;
  }
  tell_systemd("WATCHDOG=1");
  watchdog_timer.expires_after(*settings.watchdog_interval);
  watchdog_timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) {
      pet_watchdog();
    }
  });
}

// A line every stats_interval of what the daemon is doing, for operators and their log pipelines
// (and systemctl status, through STATUS=).
void Daemon::Parts::log_stats() {
  stats_timer.expires_after(settings.stats_interval);
  stats_timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) {
      return;
    }
    const auto st = snapshot();
    spdlog::info("{}", stats_line(st));
    tell_systemd(fmt::format("STATUS=watching {} containers, {} probe targets{}", st.watched,
                             st.probes.targets, st.synced ? "" : ", resync in progress"));
    log_stats();
  });
}

void Daemon::Parts::stop_sink() {
  const auto bound = settings.shutdown_timeout;
  if (stdout_sink) {
    stdout_sink->stop(bound);
    spdlog::info("stopped: {} events written, {} dropped", stdout_sink->written(),
                 stdout_sink->dropped());
  } else {
    durable_sink->stop(bound);
    const auto st = durable_sink->stats();
    spdlog::info("stopped: {} events committed, {} relayed, {} queued, {} dropped",
                 st.events_committed, st.events_relayed, st.queued, st.dropped_events);
  }
}

Daemon::Daemon(DaemonSettings settings) : parts_(std::make_unique<Parts>(std::move(settings))) {
  parts_->build();
}

Daemon::~Daemon() = default;

int Daemon::run() {
  auto& p = *parts_;
  p.load_state();
  if (p.durable_sink) {
    p.durable_sink->start();
  }
  p.watcher.emplace(p.ioc.get_executor(), p.clock, *p.docker, p.counting, *p.store, p.removals,
                    *p.probes, p.settings.watcher);
  p.start_admin();
  // Once the loop runs: the listeners are bound and the watcher is subscribing.
  asio::post(p.ioc, [&p] {
    p.tell_systemd("READY=1\nSTATUS=watching containers; first resync in progress");
    p.pet_watchdog();
  });
  spdlog::info("watching containers labelled {} on {}; state in {}",
               p.settings.watcher.model.labels.game_id, p.settings.docker.host,
               p.settings.state_dir);
  p.log_stats();

  asio::cancellation_signal cancel;
  int exit_code = 0;
  bool done = false;
  asio::co_spawn(p.ioc, p.watcher->run(),
                 asio::bind_cancellation_slot(cancel.slot(), [&](const std::exception_ptr& e) {
                   done = true;
                   p.scheduler->stop();
                   p.stats_timer.cancel();
                   p.watchdog_timer.cancel();
                   if (p.admin) {
                     p.admin->stop();
                   }
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::critical("watcher failed: {}", ex.what());
                       exit_code = 1;
                     }
                   }
                   p.ioc.stop();
                 }));

  asio::signal_set signals(p.ioc, SIGTERM, SIGINT);
  asio::steady_timer deadline(p.ioc);
  const auto bound = p.settings.shutdown_timeout;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) {
      return;
    }
    spdlog::info("signal {}: stopping (at most {} ms)", sig, bound.count());
    p.stopping = true;  // /readyz fails first; the admin listener closes with the watcher
    p.tell_systemd("STOPPING=1\nSTATUS=stopping");
    p.scheduler->stop();
    p.stats_timer.cancel();
    cancel.emit(asio::cancellation_type::terminal);
    deadline.expires_after(bound);
    deadline.async_wait([&](const boost::system::error_code& tec) {
      if (!tec && !done) {
        spdlog::error("shutdown deadline passed; exiting with work in flight");
        exit_code = 1;
        p.ioc.stop();
      }
    });
  });

  p.ioc.run();
  p.stop_sink();
  return exit_code;
}

}  // namespace galaxy::daemon
