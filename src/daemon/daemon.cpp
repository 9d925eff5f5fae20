#include "galaxy/daemon/daemon.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <filesystem>
#include <optional>
#include <thread>

#include "galaxy/admin/health.hpp"
#include "galaxy/admin/process.hpp"
#include "galaxy/admin/server.hpp"
#include "galaxy/common/backoff.hpp"
#include "galaxy/common/build_info.hpp"
#include "galaxy/daemon/identity.hpp"
#include "galaxy/daemon/sd_notify.hpp"
#include "galaxy/daemon/stats.hpp"
#include "galaxy/lifecycle/engines.hpp"
#include "galaxy/publish/adopter.hpp"
#include "galaxy/publish/host_lease.hpp"
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

// What runs while this daemon is the active one of its host: built when it takes the lease, torn
// down when it loses it (or stops), so a standby holds no Docker watch and writes nothing. Members
// in construction order: the watcher and prober go before the sink and store they use.
struct Active {
  std::unique_ptr<publish::StdoutSink> stdout_sink;
  std::unique_ptr<publish::DurableSink> durable_sink;
  std::unique_ptr<sources::StateStore> store;
  std::optional<probe::ProbeScheduler> scheduler;
  std::optional<SchedulerControl> probes;
  std::optional<sources::Watcher> watcher;
  std::unique_ptr<publish::Adopter> adopter;  // relays hosts gone for good, while active
  // Shared with the API's handlers in flight: one that is awaiting Docker when the lease is lost
  // keeps it alive until it answers (its record writes are then fenced: 503).
  std::shared_ptr<lifecycle::EngineManager> engines;
  std::int64_t epoch = 0;
};

// Members in construction order; destruction runs backwards, so the active set goes before the
// lease and the loop (with any handler still queued) goes last.
struct Daemon::Parts {
  explicit Parts(DaemonSettings s) : settings(std::move(s)), lock(settings.state_dir) {}

  DaemonSettings settings;
  StateDirLock lock;
  asio::io_context ioc{1};
  SystemClock clock;
  sources::NoRemovalIntents removals;
  std::optional<docker::DockerClient> docker;
  CountingSink counting;
  publish::HostIdentity identity;
  pg::Target lease_target;                    // the lease's and the adopter's connections
  std::unique_ptr<publish::HostLease> lease;  // durable sink only
  // Wakes the supervisor when the lease changes hands (posted from the lease's thread).
  asio::steady_timer lease_wake{ioc};
  asio::cancellation_signal active_cancel;
  std::unique_ptr<Active> active;
  LeaseStats lease_stats;
  asio::steady_timer stats_timer{ioc};
  std::optional<admin::AdminServer> admin;
  std::optional<lifecycle::ApiServer> api;
  bool stopping = false;  // SIGTERM seen: /readyz fails from then on
  SystemdNotifier systemd{settings.notify_socket};
  asio::steady_timer watchdog_timer{ioc};

  void build();
  std::unique_ptr<Active> build_active(std::int64_t epoch);
  asio::awaitable<void> supervise();
  asio::awaitable<bool> load_state(Active& a, std::int64_t epoch);
  asio::awaitable<void> record_docker_id();
  void on_lease();
  bool holds(std::int64_t epoch) const;
  void stop_active();
  void start_admin();
  void start_api();
  asio::awaitable<bool> load_engines(Active& a, std::int64_t epoch);
  DaemonStats snapshot() const;
  admin::Response readyz(const admin::Request& req) const;
  void log_stats();
  void tell_systemd(const std::string& state);
  void pet_watchdog();
};

void Daemon::Parts::build() {
  docker.emplace(ioc.get_executor(), settings.docker);
  if (settings.sink == SinkKind::stdout_lines) {
    return;  // one host, no database: always active, no lease
  }
  if (settings.adopt_after.count() > 0 && settings.adopt_after < 2 * settings.lease.ttl) {
    // Adopting sooner would race a host's own standby, which takes over within one TTL.
    throw std::invalid_argument(
        fmt::format("--adopt-after ({} ms) must be 0s or at least twice --lease-ttl ({} ms)",
                    settings.adopt_after.count(), settings.lease.ttl.count()));
  }
  const auto dir = std::filesystem::path(settings.state_dir);
  if (settings.host_id.empty()) {
    settings.host_id = load_or_create_id(dir / "host-id").value();
  }
  identity.host_id = settings.host_id;
  identity.daemon_id = load_or_create_id(dir / "daemon-id").value();
  identity.hostname = hostname();
  identity.version = std::string(build_version());
  auto target = pg::parse_target(
                    settings.durable.postgres_url,
                    pg::ConnectSettings{.connect_timeout = std::chrono::ceil<std::chrono::seconds>(
                                            settings.durable.connect_timeout),
                                        .statement_timeout = settings.durable.statement_timeout,
                                        // A takeover blocked behind a frozen daemon's
                                        // transaction is tried again at the next poll
                                        // instead of hanging the lease's thread.
                                        .lock_timeout = std::chrono::milliseconds(2'000)})
                    .value();
  lease_target = target;
  lease = std::make_unique<publish::HostLease>(
      settings.lease,
      std::make_unique<publish::PgLeaseStore>(std::move(target), settings.durable.io_timeout,
                                              identity),
      clock, [this](publish::LeaseState st, const publish::Acquired& how) {
        if (st.role == publish::LeaseRole::active &&
            (how.adopted_rows > 0 || how.adopted_state > 0)) {
          spdlog::info(
              "lease: adopted the memory of the single-host release: {} state record(s), {} "
              "outbox row(s)",
              how.adopted_state, how.adopted_rows);
        }
        asio::post(ioc, [this] { on_lease(); });
      });
  lease_stats.enabled = true;
  lease_stats.host_id = identity.host_id;
}

std::unique_ptr<Active> Daemon::Parts::build_active(std::int64_t epoch) {
  auto a = std::make_unique<Active>();
  a->epoch = epoch;
  Active* self = a.get();
  contract::TransitionSink* sink = nullptr;
  if (settings.sink == SinkKind::stdout_lines) {
    a->stdout_sink = std::make_unique<publish::StdoutSink>();
    sink = a->stdout_sink.get();
    a->store = std::make_unique<sources::FileStateStore>(std::filesystem::path(settings.state_dir) /
                                                         "watcher-state.json");
  } else {
    auto dss = settings.durable;
    dss.fence = {identity.host_id, epoch};
    // Called on the sink's thread after an overflow: hop onto the loop, where the watcher lives,
    // to reload the memory and resync from Docker.
    dss.on_resync_needed = [this, self] {
      asio::post(ioc, [this, self] {
        if (active.get() == self && self->watcher) {
          self->watcher->request_reload();
          self->durable_sink->resync_done();
        }
      });
    };
    // A write refused at this epoch: the lease is another daemon's, whatever the last renewal
    // said. The lease steps down, and tells the loop.
    dss.on_fenced = [this](std::int64_t e) { lease->fenced(e); };
    a->durable_sink = std::make_unique<publish::DurableSink>(std::move(dss));
    sink = a->durable_sink.get();
    a->store = std::make_unique<DurableStateStore>(*a->durable_sink);
    a->engines = std::make_shared<lifecycle::EngineManager>(
        ioc.get_executor(), *docker,
        std::make_unique<lifecycle::PgRecordStore>(lease_target, settings.durable.io_timeout,
                                                   publish::HostFence{identity.host_id, epoch}),
        lifecycle::EngineManagerSettings{.host_id = identity.host_id,
                                         .labels = settings.watcher.model.labels,
                                         .image_prefixes = settings.engine_image_prefixes});
  }
  counting.forward_to(*sink);
  // Verdicts arrive on the loop's thread, after the watcher exists.
  a->scheduler.emplace(ioc.get_executor(), clock, settings.probes,
                       [self](const std::string& id, const contract::Details& d, std::int64_t at) {
                         if (self->watcher) {
                           self->watcher->probe_verdict(id, d, at);
                         }
                       });
  a->probes.emplace(*a->scheduler);
  return a;
}

bool Daemon::Parts::holds(std::int64_t epoch) const {
  if (!lease) {
    return true;
  }
  const auto st = lease->state();
  return st.role == publish::LeaseRole::active && st.epoch == epoch;
}

// On the loop: the lease changed hands. Losing it cancels the active set (the supervisor tears it
// down); taking it wakes the supervisor.
void Daemon::Parts::on_lease() {
  if (active && !holds(active->epoch)) {
    active_cancel.emit(asio::cancellation_type::terminal);
  }
  lease_wake.cancel();
}

// The memory must load before the watcher starts; PostgreSQL may still be coming up, so a failure
// is logged and retried while this daemon holds the lease. False: stopping, or the lease is gone.
asio::awaitable<bool> Daemon::Parts::load_state(Active& a, std::int64_t epoch) {
  // No jitter: one daemon waiting for its own database has no fleet to spread out.
  auto backoff = ExponentialBackoff::without_jitter(std::chrono::milliseconds(250),
                                                    std::chrono::milliseconds(10'000));
  asio::steady_timer wait(ioc);
  for (;;) {
    auto state = a.store->load();
    if (state) {
      co_return true;
    }
    const auto delay = backoff.next();
    spdlog::error("cannot load state: {}; retrying in {} ms", state.error().message(),
                  delay.count());
    wait.expires_after(delay);
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping || !holds(epoch)) {
      co_return false;
    }
  }
}

// The records' removal intents must be known before the watcher starts (a destroy they asked
// for is no disappearance), and the intents a crash left are finished before it does.
asio::awaitable<bool> Daemon::Parts::load_engines(Active& a, std::int64_t epoch) {
  if (!a.engines) {
    co_return true;
  }
  auto backoff = ExponentialBackoff::without_jitter(std::chrono::milliseconds(250),
                                                    std::chrono::milliseconds(10'000));
  asio::steady_timer wait(ioc);
  for (;;) {
    auto loaded = co_await a.engines->load();
    if (loaded) {
      break;
    }
    const auto delay = backoff.next();
    spdlog::error("cannot load the runtime records: {}; retrying in {} ms",
                  loaded.error().message(), delay.count());
    wait.expires_after(delay);
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping || !holds(epoch)) {
      co_return false;
    }
  }
  co_await a.engines->reconcile();
  co_return !stopping && holds(epoch);
}

// Docker's /info ID goes beside our host id in runtime_hosts (for operators: which dockerd a host
// id stands for). Asked until it answers.
asio::awaitable<void> Daemon::Parts::record_docker_id() {
  asio::steady_timer wait(ioc);
  while (!stopping) {
    auto info = co_await docker->info();
    if (info) {
      lease->set_docker_id(info->id);
      co_return;
    }
    wait.expires_after(std::chrono::seconds(5));
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void Daemon::Parts::stop_active() {
  if (!active) {
    return;
  }
  active->scheduler->stop();
  if (active->adopter) {
    active->adopter->stop();
  }
  const auto bound = settings.shutdown_timeout;
  if (active->stdout_sink) {
    active->stdout_sink->stop(bound);
    spdlog::info("stopped: {} events written, {} dropped", active->stdout_sink->written(),
                 active->stdout_sink->dropped());
  } else {
    active->durable_sink->stop(bound);
    const auto st = active->durable_sink->stats();
    spdlog::info("stopped: {} events committed, {} relayed, {} queued, {} dropped",
                 st.events_committed, st.events_relayed, st.queued, st.dropped_events);
  }
  active.reset();
}

// The daemon's life: wait as a standby until the lease is ours, run the sources until SIGTERM or
// the lease is lost, tear them down, and (unless stopping) wait again.
asio::awaitable<void> Daemon::Parts::supervise() {
  bool announced_standby = false;
  while (!stopping) {
    std::int64_t epoch = 0;
    if (lease) {
      const auto st = lease->state();
      if (st.role != publish::LeaseRole::active) {
        if (!announced_standby) {
          spdlog::info("standby for host {}: waiting for its lease", identity.host_id);
          tell_systemd("STATUS=standby: another daemon holds the host's lease");
          announced_standby = true;
        }
        lease_wake.expires_after(std::chrono::seconds(1));
        co_await lease_wake.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      epoch = st.epoch;
      ++lease_stats.takeovers;
      spdlog::info("active for host {} (lease epoch {})", identity.host_id, epoch);
    }
    announced_standby = false;
    active = build_active(epoch);
    if (!co_await load_state(*active, epoch) || !co_await load_engines(*active, epoch)) {
      stop_active();
      continue;
    }
    if (active->durable_sink) {
      active->durable_sink->start();
      if (settings.adopt_after.count() > 0) {
        publish::AdopterSettings as;
        as.adopt_after = settings.adopt_after;
        as.sink = settings.durable;
        active->adopter = std::make_unique<publish::Adopter>(
            as, lease_target, "adopted-by:" + identity.daemon_id, identity.host_id);
        active->adopter->start();
      }
    }
    const sources::RemovalIntents& intents =
        active->engines ? static_cast<const sources::RemovalIntents&>(*active->engines) : removals;
    active->watcher.emplace(ioc.get_executor(), clock, *docker, counting, *active->store, intents,
                            *active->probes, settings.watcher);
    spdlog::info("watching containers labelled {} on {}; state in {}",
                 settings.watcher.model.labels.game_id, settings.docker.host, settings.state_dir);
    tell_systemd("STATUS=watching containers; first resync in progress");
    if (holds(epoch) && !stopping) {
      auto [ex] = co_await asio::co_spawn(
          ioc, active->watcher->run(),
          asio::bind_cancellation_slot(active_cancel.slot(), asio::as_tuple(asio::use_awaitable)));
      if (ex && !stopping && holds(epoch)) {
        std::rethrow_exception(ex);  // the watcher failed on its own: fatal, as before
      }
    }
    active_cancel.slot().clear();
    stop_active();
    if (!stopping) {
      ++lease_stats.step_downs;
      spdlog::warn("host {}: lease epoch {} lost; stepped down to standby", identity.host_id,
                   epoch);
    }
  }
}

DaemonStats Daemon::Parts::snapshot() const {
  DaemonStats st;
  // A standby has no active set: its sources' and sink's figures are zero until it takes over.
  if (active && active->watcher) {
    const auto& w = *active->watcher;
    st.watcher = w.stats();
    st.watched = w.watched();
    st.synced = w.synced();
    st.docker_up = w.docker_up();
  }
  if (active) {
    st.probes = active->scheduler->stats();
  }
  if (settings.sink == SinkKind::durable) {
    st.durable = active ? active->durable_sink->stats() : publish::DurableSinkStats{};
    st.queue_capacity = settings.durable.queue_capacity;
  } else {
    st.stdout_sink =
        active ? StdoutSinkStats{active->stdout_sink->written(), active->stdout_sink->dropped()}
               : StdoutSinkStats{};
  }
  st.lease = lease_stats;
  if (lease) {
    const auto l = lease->state();
    st.lease.active = l.role == publish::LeaseRole::active;
    st.lease.epoch = l.epoch;
  }
  st.emitted = counting.emitted();
  return st;
}

admin::Response Daemon::Parts::readyz(const admin::Request& req) const {
  std::vector<admin::Check> checks;
  checks.push_back({"ping", true, ""});
  // A standby is alive (/livez) but not ready: it reports nothing until it takes the lease.
  if (lease) {
    checks.push_back({"lease", lease->state().role == publish::LeaseRole::active,
                      "standby: another daemon holds host " + identity.host_id + "'s lease"});
  }
  const sources::Watcher* watcher = active && active->watcher ? &*active->watcher : nullptr;
  checks.push_back(
      {"docker", watcher != nullptr && watcher->docker_up(), "dockerd does not answer"});
  checks.push_back(
      {"synced", watcher != nullptr && watcher->synced(), "the first resync is not done"});
  if (active && active->durable_sink) {
    const auto d = active->durable_sink->stats();
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

// The engine API: on the loop from start to stop; while standby every route answers 503, since
// only the active daemon of a host may act on its dockerd.
void Daemon::Parts::start_api() {
  if (settings.api.listen.empty()) {
    return;
  }
  if (settings.sink != SinkKind::durable) {
    spdlog::info("engine API off: its records need the durable sink's PostgreSQL");
    return;
  }
  auto as = settings.api;
  if (const auto at = as.listen.find("STATE_DIR"); at != std::string::npos) {
    as.listen.replace(at, 9, settings.state_dir);
  }
  api.emplace(ioc.get_executor(), as);
  using Method =
      asio::awaitable<lifecycle::ApiResponse> (lifecycle::EngineManager::*)(lifecycle::ApiRequest);
  const auto route = [this](boost::beast::http::verb verb, const std::string& pattern,
                            Method method) {
    api->add(verb, pattern,
             [this, method](lifecycle::ApiRequest req) -> asio::awaitable<lifecycle::ApiResponse> {
               std::shared_ptr<lifecycle::EngineManager> engines =
                   active ? active->engines : nullptr;
               if (!engines) {
                 co_return lifecycle::ApiResponse{
                     503, lifecycle::error_json(lifecycle::ApiError{
                              503, "standby",
                              "this daemon is a standby of host " + identity.host_id +
                                  " (or not running its sources yet); ask the active one",
                              ""})};
               }
               co_return co_await ((*engines).*method)(std::move(req));
             });
  };
  using boost::beast::http::verb;
  route(verb::post, "/v1/engines", &lifecycle::EngineManager::create);
  route(verb::get, "/v1/engines", &lifecycle::EngineManager::list);
  route(verb::get, "/v1/engines/{game_id}", &lifecycle::EngineManager::get);
  route(verb::post, "/v1/engines/{game_id}/stop", &lifecycle::EngineManager::stop);
  route(verb::post, "/v1/engines/{game_id}/restart", &lifecycle::EngineManager::restart);
  route(verb::delete_, "/v1/engines/{game_id}", &lifecycle::EngineManager::remove);
  if (auto r = api->start(); !r) {
    throw std::runtime_error(r.error().message());
  }
  spdlog::info("engine API listening on {}", api->local_address());
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

Daemon::Daemon(DaemonSettings settings) : parts_(std::make_unique<Parts>(std::move(settings))) {
  parts_->build();
}

Daemon::~Daemon() = default;

int Daemon::run() {
  auto& p = *parts_;
  if (p.lease) {
    p.lease->start();
    asio::co_spawn(p.ioc, p.record_docker_id(), asio::detached);
    spdlog::info("host {} (daemon {} on {}); lease TTL {} ms", p.identity.host_id,
                 p.identity.daemon_id, p.identity.hostname, p.settings.lease.ttl.count());
  }
  p.start_admin();
  p.start_api();
  // Once the loop runs: the listeners are bound and the supervisor is waiting for the lease or
  // building the sources.
  asio::post(p.ioc, [&p] {
    p.tell_systemd("READY=1");
    p.pet_watchdog();
  });
  p.log_stats();

  int exit_code = 0;
  bool done = false;
  asio::co_spawn(p.ioc, p.supervise(), [&](const std::exception_ptr& e) {
    done = true;
    p.stats_timer.cancel();
    p.watchdog_timer.cancel();
    if (p.admin) {
      p.admin->stop();
    }
    if (p.api) {
      p.api->stop();
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
  });

  asio::signal_set signals(p.ioc, SIGTERM, SIGINT);
  asio::steady_timer deadline(p.ioc);
  const auto bound = p.settings.shutdown_timeout;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) {
      return;
    }
    spdlog::info("signal {}: stopping (at most {} ms)", sig, bound.count());
    p.stopping = true;  // /readyz fails first; the admin listener closes when the sources end
    p.tell_systemd("STOPPING=1\nSTATUS=stopping");
    if (p.active) {
      p.active->scheduler->stop();
    }
    p.stats_timer.cancel();
    p.active_cancel.emit(asio::cancellation_type::terminal);
    p.lease_wake.cancel();
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
  p.stop_active();  // only when the deadline cut the supervisor short
  if (p.lease) {
    // After the sink has stopped: a standby may take over at once, and nothing of ours follows.
    p.lease->stop(/*leave=*/true);
  }
  return exit_code;
}

}  // namespace galaxy::daemon
