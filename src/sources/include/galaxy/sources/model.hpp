// The per-container health model that the three sources share.
//
// Sources report what they saw (a Docker event, an inspect, a probe verdict); the model decides
// which contract event that is, if any, so each fact is reported once whichever source sees it
// first. It does no I/O: side effects it needs (an inspect now, starting or stopping a probe)
// go out through ModelActions, events through contract::EventSink. Single-threaded: all calls
// come from the daemon's event loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "galaxy/common/clock.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/contract/sink.hpp"

namespace galaxy::sources {

using Labels = std::map<std::string, std::string>;

struct LabelSettings {
  std::string game_id = "galaxy.game_id";
  std::string port = "galaxy.healthz.port";
  std::string path = "galaxy.healthz.path";
  std::uint16_t default_port = 8080;
  std::string default_path = "/healthz";
};

struct WatchSpec {
  std::string game_id;
  std::uint16_t port = 8080;
  std::string path = "/healthz";
  bool operator==(const WatchSpec&) const = default;
};

// nullopt: not a game engine (no game label). Error: a label breaks the rules; path names it.
Result<std::optional<WatchSpec>> watch_spec(const Labels& labels, const LabelSettings& settings);

// One Docker container event, already filtered to type=container.
struct ContainerEvent {
  std::string id;
  std::string action;  // "start", "die", "oom", "destroy", "health_status: unhealthy", ...
  std::int64_t time_ns = 0;
  Labels attributes;  // Actor.Attributes: labels plus image, name, exitCode
};

// What one inspect showed. Times are epoch ms; 0 when Docker says never.
struct ContainerSnapshot {
  std::string id;
  Labels labels;
  std::string image;
  std::string status;  // State.Status
  bool running = false;
  std::int64_t exit_code = 0;
  bool oom_killed = false;
  std::int64_t started_at_ms = 0;
  std::int64_t finished_at_ms = 0;
  std::string health;  // "" without a HEALTHCHECK
  std::int64_t restart_count = 0;
  std::string probe_ip;  // "" when the container has no address to probe
};

struct ProbeEndpoint {
  std::string ip;
  std::uint16_t port = 8080;
  std::string path = "/healthz";
  bool operator==(const ProbeEndpoint&) const = default;
};

class ModelActions {
 public:
  virtual ~ModelActions() = default;
  virtual void inspect_now(const std::string& id) = 0;
  // A fresh probe run for this container (any earlier run is discarded).
  virtual void probe_start(const std::string& id, const ProbeEndpoint& target) = 0;
  virtual void probe_stop(const std::string& id) = 0;
};

// Answers whether Runtime Manager itself removed a container (its runtime records hold a removal
// intent). Until the lifecycle module keeps records, the only answer is "no".
class RemovalIntents {
 public:
  virtual ~RemovalIntents() = default;
  virtual bool initiated(const std::string& container_id) const = 0;
};

class NoRemovalIntents final : public RemovalIntents {
 public:
  bool initiated(const std::string& /*container_id*/) const override { return false; }
};

struct ModelSettings {
  LabelSettings labels;
  // How long an `oom` and its `die` wait for each other, whichever dockerd delivers first: an
  // `oom` waits for the exit code of its `die`, a `die` with 137 waits for the `oom` that would
  // make it an OOM kill.
  std::chrono::milliseconds oom_window{2000};
  // A Docker event and an inspect describe the same start (or exit) when the event is not
  // before StartedAt (FinishedAt) and within this much after it.
  std::chrono::milliseconds same_fact_window{2000};
};

// What survives a restart of the daemon: where to resume the Docker event stream, and what was
// already reported per container.
struct Cursor {
  std::int64_t time_ns = 0;       // 0: never ran, so history before the first sync is baseline
  std::set<std::string> at_keys;  // "<id> <action>" of the events seen at exactly time_ns
  bool operator==(const Cursor&) const = default;
};

// A `die` with exit code 137 that no OOM of its run explained yet: its container_exited waits
// (up to oom_window) for an `oom` that dockerd may deliver after the `die`.
struct HeldExit {
  std::int64_t exit_code = 0;
  std::int64_t at_ms = 0;  // the die's time, which the events keep however late they go out
  bool operator==(const HeldExit&) const = default;
};

struct ContainerMemory {
  std::string id;
  std::string game_id;
  std::int64_t start_mark_ms = 0;  // time of the last start reported (event time or StartedAt)
  bool start_mark_from_event = false;
  std::int64_t exit_mark_ms = 0;
  bool exit_mark_from_event = false;
  bool oom_since_start = false;
  bool has_restart_count = false;
  std::int64_t restart_count = 0;
  std::optional<contract::InspectUnhealthy> unhealthy;  // last inspect_unhealthy reported
  bool probe_episode_open = false;  // probe_failed reported, no probe_recovered since
  // Kept with the memory so a daemon restart inside the window still reports it; the exit mark
  // is already set, so nothing else reports that exit meanwhile.
  std::optional<HeldExit> held_exit;
  bool operator==(const ContainerMemory&) const = default;
};

struct ModelState {
  Cursor cursor;
  std::vector<ContainerMemory> containers;
  bool operator==(const ModelState&) const = default;
};

class HealthModel {
 public:
  HealthModel(const Clock& clock, contract::EventSink& sink, ModelActions& actions,
              const RemovalIntents& removals, ModelSettings settings);

  // Replaces all memory with `state` (at start, or after a sink lost transitions).
  void restore(const ModelState& state);
  ModelState save() const;
  // True when save() would differ from the last save(); cleared by save().
  bool dirty() const { return dirty_; }
  // The memory records changed since the last call (cursor, containers changed or forgotten),
  // for a durable sink to store with the events that changed them.
  std::vector<contract::StateRecord> take_state_changes();

  // Source 1. Events the cursor already covers (a `since` replay) are dropped here.
  void on_event(const ContainerEvent& event);
  // Source 2.
  void on_inspect(const ContainerSnapshot& snapshot);
  void on_inspect_not_found(const std::string& id);
  // Source 3: a verdict of the probe state machine for a container's current run.
  void on_probe(const std::string& id, const contract::Details& verdict, std::int64_t at_ms);
  // Ends OOM windows that saw no `die` and releases held exits that saw no `oom`; call at least
  // every oom_window / 4.
  void on_tick();
  // After a (re)subscription: the ids a list call returned. Tracked containers missing from it
  // are inspected (a 404 then reports them gone); listed ones are inspected to reconcile.
  void on_listed(const std::vector<std::string>& ids);

  std::vector<std::string> watched() const;
  const Cursor& cursor() const { return cursor_; }

 private:
  struct Container {
    ContainerMemory memory;
    WatchSpec spec;
    bool running = false;
    std::int64_t started_at_ms = 0;  // of the run the probe belongs to
    bool probing = false;
    struct PendingOom {
      std::int64_t at_ms = 0;
      std::chrono::steady_clock::time_point deadline;
      bool inspect_requested = false;
    };
    std::optional<PendingOom> pending_oom;
    // Of memory.held_exit. Steady time does not survive a restart, so restore() starts a fresh
    // window: the `oom` may still come, replayed by `since`.
    std::chrono::steady_clock::time_point hold_deadline;
    bool inspect_after_hold = false;  // an inspect was set aside while the exit was held
  };

  Container* track(const std::string& id, const Labels& labels);
  bool covered_by_cursor(const ContainerEvent& e) const;
  void advance_cursor(const ContainerEvent& e);
  void emit(const Container& c, std::int64_t at_ms, contract::Details details);
  void handle_start(Container& c, const ContainerEvent& e);
  void handle_die(Container& c, const ContainerEvent& e);
  void handle_oom(Container& c, const ContainerEvent& e);
  void gone(const std::string& id, std::int64_t at_ms);
  void flush_oom(Container& c, std::int64_t exit_code);
  void release_exit(Container& c);
  void reconcile_start(Container& c, const ContainerSnapshot& s);
  void reconcile_exit(Container& c, const ContainerSnapshot& s);
  void check_unhealthy(Container& c, const ContainerSnapshot& s);
  void maybe_probe(Container& c, const ContainerSnapshot& s);
  void changed(const std::string& id) {
    dirty_ = true;
    changed_.insert(id);
  }

  const Clock& clock_;
  contract::EventSink& sink_;
  ModelActions& actions_;
  const RemovalIntents& removals_;
  ModelSettings settings_;
  Cursor cursor_;
  std::int64_t baseline_ms_ = 0;  // containers first seen with facts older than this are baseline
  std::unordered_map<std::string, Container> containers_;
  std::set<std::string> gone_;  // reported disappeared or removed by us; never again
  std::deque<std::string> gone_order_;
  std::set<std::string> skipped_;  // bad labels, logged once
  bool dirty_ = false;
  std::set<std::string> changed_;  // container ids whose memory changed (or was forgotten)
  bool cursor_changed_ = false;
};

}  // namespace galaxy::sources
