// The timing of the prober: every target on its own fixed grid. Pure and driven by explicit time
// points (unit tests use a ManualClock); ProbeScheduler (scheduler.hpp) is its driver.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

namespace galaxy::probe {

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

}  // namespace galaxy::probe
