// Probes every registered target on its own fixed grid and reports probe_failed/probe_recovered.
//
// ProbeSchedule is the timing alone, pure and driven by explicit time points (unit tests use a
// ManualClock). ProbeScheduler is a thin driver: one asio timer for all targets, woken at the
// earliest due time, which starts the due probes on their ProbeSessions.
#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/common/clock.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/contract/event.hpp"
#include "galaxy/sources/probe.hpp"

namespace galaxy::sources {

// Each timeline runs on the grid first_due + k * interval. A late wake-up skips the slots it
// missed (counted, never made up in a burst), so the schedule never drifts with completion times
// or loop lag.
class ProbeSchedule {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  struct Due {
    std::uint32_t id;
    time_point due;         // the grid slot being served
    std::uint64_t skipped;  // earlier grid slots that passed without a wake-up
  };

  explicit ProbeSchedule(std::uint64_t seed);

  // (Re)starts id's timeline with its first slot at now + grace + a random offset in
  // [0, interval): targets added together (a restart of either side) spread over one period.
  time_point add(std::uint32_t id, time_point now, duration grace, duration interval);
  // The same with the first slot given.
  void add_at(std::uint32_t id, time_point first_due, duration interval);
  void remove(std::uint32_t id);
  bool contains(std::uint32_t id) const;

  // The earliest slot of any timeline, if there is one.
  std::optional<time_point> next_due();

  // When a driver batching by `window` wakes for a slot due at `due`: the first multiple of the
  // window (counted from the clock's epoch) at or after it; `due` itself for a zero window.
  static time_point batch_wake(time_point due, duration window);

  // Calls f(Due) for every timeline whose slot is at or before now, in due order, and moves each
  // to its first grid slot after now.
  template <class F>
  void pop_due(time_point now, F&& f) {
    while (true) {
      drop_stale();
      if (heap_.empty() || heap_.front().due > now) {
        return;
      }
      const Entry top = pop();
      Timeline& t = timelines_[top.id];
      const time_point due = t.next;
      t.next += t.interval;
      std::uint64_t skipped = 0;
      if (t.next <= now) {
        skipped = static_cast<std::uint64_t>((now - t.next) / t.interval) + 1;
        t.next += t.interval * static_cast<std::int64_t>(skipped);
      }
      push(Entry{t.next, top.id, t.generation});
      f(Due{top.id, due, skipped});
    }
  }

 private:
  struct Timeline {
    time_point next{};
    duration interval{};
    std::uint32_t generation = 0;
    bool active = false;
  };
  struct Entry {
    time_point due;
    std::uint32_t id;
    std::uint32_t generation;
  };

  void push(Entry e);
  Entry pop();
  void drop_stale();

  std::vector<Timeline> timelines_;  // by id
  std::vector<Entry> heap_;  // min-heap on due; entries of removed/re-added timelines are stale
  std::mt19937_64 rng_;
};

struct ProbeSchedulerSettings {
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds start_grace{10000};
  // Probes due within one window start together: the timer wakes at most once per window, on
  // multiples of it, so a probe starts at most one window after its slot. Waking once per probe
  // instead costs a timer reprogramming and a loop wake-up each (a VM exit on most hypervisors),
  // which at 1,000-10,000 probes a second was the largest cost after the TCP handshake.
  // Zero wakes for every slot. Must not exceed the interval.
  std::chrono::milliseconds batch_window{5};
  ProbeSettings probe;  // the per-probe timeout lives here
  ProbeThresholds thresholds;
  std::uint64_t jitter_seed = 0;  // 0: from std::random_device
};

struct ProbeSchedulerStats {
  std::size_t targets = 0;
  std::uint64_t probes_started = 0;
  std::uint64_t probes_ok = 0;
  std::uint64_t probes_failed = 0;
  std::uint64_t rounds_missed = 0;   // due while the previous probe was still running
  std::uint64_t rounds_skipped = 0;  // passed while the driver was not woken (loop lag)
  // Schedule lag (start time minus grid slot) in 1 ms buckets; the last is ">= 1023 ms".
  std::array<std::uint64_t, 1024> lag_ms{};

  // The smallest lag in ms that at least q of the started rounds did not exceed.
  std::int64_t lag_quantile_ms(double q) const;
};

class ProbeScheduler {
 public:
  // Called on the executor's thread for each emitted event; wall_ms is when the deciding probe
  // finished. The key is the one given to add().
  using Report =
      std::function<void(const std::string& key, const contract::Details&, std::int64_t wall_ms)>;

  // The executor must run on one thread (or be a strand); every member function must be called
  // from it. The clock must tell steady time on std::chrono::steady_clock, which the timer uses.
  // Throws std::invalid_argument for unusable settings.
  ProbeScheduler(const boost::asio::any_io_executor& executor, const Clock& clock,
                 ProbeSchedulerSettings settings, Report report);
  ~ProbeScheduler();
  ProbeScheduler(const ProbeScheduler&) = delete;
  ProbeScheduler& operator=(const ProbeScheduler&) = delete;

  // A container (re)started: probe it after the start grace, with a fresh failure run. An existing
  // key is replaced (its probe in flight is abandoned, its episode ends silently).
  Result<void> add(const std::string& key, std::string_view address, std::uint16_t port,
                   std::string_view path);
  // Same container, new address or path (e.g. a network change): the run and the grid are kept.
  Result<void> update(const std::string& key, std::string_view address, std::uint16_t port,
                      std::string_view path);
  // Stop probing; an open episode ends silently. Unknown keys are ignored.
  void remove(const std::string& key);
  bool contains(const std::string& key) const;

  // Cancels the timer and every probe in flight; nothing is reported afterwards. Idempotent;
  // the destructor does it.
  void stop();

  ProbeSchedulerStats stats() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace galaxy::sources
