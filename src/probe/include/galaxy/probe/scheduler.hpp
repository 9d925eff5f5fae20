// Probes every registered target on its own fixed grid and reports probe_failed/probe_recovered.
//
// ProbeScheduler is a thin driver over ProbeSchedule (schedule.hpp, the timing alone): one timer
// for all targets, woken at the earliest due time, which starts the due probes on their
// ProbeSessions.
#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/common/clock.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/contract/event.hpp"
#include "galaxy/probe/schedule.hpp"
#include "galaxy/probe/state_machine.hpp"
#include "galaxy/probe/types.hpp"

namespace galaxy::probe {

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
  std::uint64_t jitter_seed = 0;  // 0: from random_seed() (std::random_device)
};

struct ProbeSchedulerStats {
  std::size_t targets = 0;
  std::uint64_t probes_started = 0;
  std::uint64_t probes_ok = 0;
  std::uint64_t probes_failed = 0;
  // Finished probes by ProbeOutcome, and their durations (latency) in kProbeDurationBounds
  // buckets (not cumulative; the last slot is above the last bound).
  std::array<std::uint64_t, kProbeOutcomes> outcomes{};
  std::array<std::uint64_t, kProbeDurationBounds.size() + 1> duration_buckets{};
  double duration_sum_seconds = 0;
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
  // from it. The schedule, the timer and every probe deadline run on the clock's time (a
  // ManualClock in unit tests), and the clock must outlive the scheduler.
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

}  // namespace galaxy::probe
