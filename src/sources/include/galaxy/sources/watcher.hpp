// The Docker side of Runtime Manager: the events listener (source 1) and the inspect worker
// (source 2), feeding the shared HealthModel, all on one executor.
//
//   Docker /events ──> listener ──┐
//   list + inspect <── inspect ───┼──> HealthModel ──> EventSink
//   probe verdicts ───────────────┘        │
//                 ProbeControl <───────────┘ (start/stop probing a container)
//
// The listener subscribes with `since` = the model's cursor (or now, on a first run), so
// anything after that instant reaches it even if the subscription lands after the list that
// follows; it resyncs (list, then inspect everything) after every (re)connect, watches the
// stream with a periodic ping, and reconnects with capped, equally jittered backoff.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>

#include "galaxy/common/backoff.hpp"
#include "galaxy/common/clock.hpp"
#include "galaxy/contract/sink.hpp"
#include "galaxy/docker/api.hpp"
#include "galaxy/sources/model.hpp"
#include "galaxy/sources/state_store.hpp"

namespace galaxy::sources {

// Where probe starts and stops go; the prober implements it.
class ProbeControl {
 public:
  virtual ~ProbeControl() = default;
  virtual void start(const std::string& container_id, const ProbeEndpoint& endpoint) = 0;
  virtual void stop(const std::string& container_id) = 0;
};

struct WatcherSettings {
  ModelSettings model;
  std::string network;  // probe this network's IP; "" = the first network with an IP
  std::chrono::milliseconds inspect_interval{10'000};
  std::size_t max_inspects_in_flight = 32;
  std::chrono::milliseconds ping_interval{5'000};
  std::chrono::milliseconds reconnect_min{250};
  std::chrono::milliseconds reconnect_max{10'000};
  std::chrono::milliseconds save_interval{1'000};
  // A resume replays the events since the cursor before it lists and inspects; a replay Docker has
  // not ended by then (its clock behind ours) gives way to the live stream, which replays too.
  std::chrono::milliseconds catch_up_timeout{10'000};
};

struct WatcherStats {
  std::uint64_t events = 0;
  std::uint64_t bad_lines = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t inspects = 0;
  std::uint64_t inspect_errors = 0;
  std::uint64_t reloads = 0;
  std::uint64_t resyncs = 0;    // completed (list, then every inspect)
  std::uint64_t catch_ups = 0;  // replays since the cursor that Docker completed before a resync
};

class Watcher final : private ModelActions {
 public:
  // Throws galaxy::ErrorException when the state store holds a state it cannot read. Its paced
  // waits (the periodic tick, reconnect backoff, pings) are on the clock's timers.
  Watcher(const boost::asio::any_io_executor& executor, const Clock& clock,
          docker::DockerApi& docker, contract::TransitionSink& sink, StateStore& store,
          const RemovalIntents& removals, ProbeControl& probes, WatcherSettings settings);

  // Runs until cancelled (through the cancellation slot of co_spawn); saves the state on the way
  // out.
  boost::asio::awaitable<void> run();

  // A verdict of the prober for a container; the model decides whether it is still news.
  void probe_verdict(const std::string& container_id, const contract::Details& verdict,
                     std::int64_t at_ms);

  // The sink lost transitions (its queue overflowed): reload the memory from the store and
  // resync from Docker, so whatever was lost is observed again. Call on the executor's thread.
  void request_reload() { reload_requested_ = true; }

  const WatcherStats& stats() const { return stats_; }
  std::size_t watched() const { return model_.watched().size(); }
  // True once a resync (list, then inspect of every listed container) has finished since start:
  // from then on what the daemon reports is Docker's present state. Readiness, for operators.
  bool synced() const { return synced_; }
  // True while dockerd answers: from a successful list or ping until the events round ends.
  bool docker_up() const { return docker_up_; }

 private:
  void inspect_now(const std::string& id) override;
  void probe_start(const std::string& id, const ProbeEndpoint& endpoint) override;
  void probe_stop(const std::string& id) override;

  boost::asio::awaitable<void> listen_loop();
  // The instant the live stream resumes from: after the replay up to now when Docker completes it,
  // else the cursor.
  boost::asio::awaitable<std::int64_t> catch_up(const docker::EventHandler& on_event);
  // Both end with why the round should end: the ping's error, a reload, or cancellation.
  boost::asio::awaitable<Error> resync_then_watch();
  boost::asio::awaitable<Error> watchdog();
  boost::asio::awaitable<void> resync();
  boost::asio::awaitable<void> periodic_loop();
  boost::asio::awaitable<void> inspect_workers();
  boost::asio::awaitable<void> inspect_worker();
  boost::asio::awaitable<void> inspect_one(const std::string& id);
  void save_state();
  ContainerSnapshot to_snapshot(const docker::ContainerInspect& in) const;
  // Hands what the last model call emitted, with the memory it changed, to the sink as one
  // transition.
  void flush();
  void note_resync_if_done();

  struct Collector final : contract::EventSink {
    std::vector<contract::Event> events;
    void emit(const contract::Event& e) override { events.push_back(e); }
  };

  boost::asio::any_io_executor executor_;
  const Clock& clock_;
  docker::DockerApi& docker_;
  contract::TransitionSink& sink_;
  Collector collected_;
  StateStore& store_;
  ProbeControl& probes_;
  WatcherSettings settings_;
  HealthModel model_;
  WatcherStats stats_;
  std::deque<std::string> pending_;
  std::set<std::string> pending_set_;
  // A wake-up for idle inspect workers (cancel_one), never expiring: not a wait on time, so not
  // one of the clock's timers.
  boost::asio::steady_timer work_ready_;
  std::size_t in_flight_ = 0;
  bool reload_requested_ = false;
  std::optional<std::chrono::steady_clock::time_point> resync_started_;
  bool synced_ = false;
  bool docker_up_ = false;
  ExponentialBackoff reconnect_backoff_;
};

}  // namespace galaxy::sources
