// Reconnect delays: doubling from min to max, with jitter so a fleet of consumers that lost the
// same Redis does not reconnect in lockstep. Not thread-safe (one per consumer).
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace galaxy::consumer {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, std::uint64_t seed);

  // The next delay: uniform in [cap/2, cap], where cap = min(max, min * 2^attempts).
  std::chrono::milliseconds next();
  // After a success: the next delay starts from min again.
  void reset() { attempts_ = 0; }

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  unsigned attempts_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace galaxy::consumer
