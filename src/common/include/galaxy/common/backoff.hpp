// Retry delays: capped exponential backoff, optionally with equal jitter. Every reconnect and
// retry loop in the daemon and the consumer SDK takes its delays from here.
#pragma once

#include <chrono>
#include <cstdint>

#include "galaxy/common/random.hpp"

namespace galaxy {

// The n-th delay (n = attempt(), from 0) is based on d = min(max, min * 2^n):
//  - equal jitter: uniform in [d/2, d] (whole milliseconds). Half of d is kept so the delay still
//    grows; the random half spreads the retries of many clients that lost the same server, so
//    they do not come back in lockstep. (Not "full jitter", which draws from [0, d].)
//  - no jitter: exactly d, for a single client waiting for its own dependency.
// Bounds are clamped, not rejected (the settings come from code and tests, and a retry loop must
// not fail to start): negative bounds count as zero, and a min above max is lowered to max, since
// max is the promise to the caller that no wait is ever longer. min = 0 makes every delay 0
// (tests use it to retry at once).
// Not thread-safe: one per retry loop.
class ExponentialBackoff {
 public:
  using Delay = std::chrono::milliseconds;

  static ExponentialBackoff with_equal_jitter(Delay min, Delay max, UnitRandom random);
  static ExponentialBackoff without_jitter(Delay min, Delay max);

  // The delay to wait before the next retry; advances attempt().
  Delay next();
  // After a success: the next delay is based on min again.
  void reset() { attempt_ = 0; }
  // How many delays next() handed out since construction or reset().
  std::uint32_t attempt() const { return attempt_; }

  Delay min() const { return min_; }
  Delay max() const { return max_; }

 private:
  ExponentialBackoff(Delay min, Delay max, UnitRandom random);
  Delay base() const;

  Delay min_;
  Delay max_;
  UnitRandom random_;  // empty: no jitter
  std::uint32_t attempt_ = 0;
};

}  // namespace galaxy
