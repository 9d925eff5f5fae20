#include "galaxy/consumer/backoff.hpp"

#include <algorithm>
#include <cassert>

namespace galaxy::consumer {

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, std::uint64_t seed)
    : min_(min), max_(max), rng_(seed) {
  assert(min_.count() > 0 && max_ >= min_);
}

std::chrono::milliseconds Backoff::next() {
  // Past 2^20 * min the cap is max anyway; stopping there keeps the shift defined.
  const unsigned shift = std::min(attempts_, 20U);
  const auto cap = std::min<std::int64_t>(max_.count(), min_.count() << shift);
  ++attempts_;
  std::uniform_int_distribution<std::int64_t> dist(cap / 2, cap);
  return std::chrono::milliseconds(dist(rng_));
}

}  // namespace galaxy::consumer
