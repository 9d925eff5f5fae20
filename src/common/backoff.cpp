#include "galaxy/common/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace galaxy {

ExponentialBackoff ExponentialBackoff::with_equal_jitter(Delay min, Delay max, UnitRandom random) {
  return {min, max, std::move(random)};
}

ExponentialBackoff ExponentialBackoff::without_jitter(Delay min, Delay max) {
  return {min, max, UnitRandom{}};
}

ExponentialBackoff::ExponentialBackoff(Delay min, Delay max, UnitRandom random)
    : max_(std::max(max, Delay::zero())), random_(std::move(random)) {
  min_ = std::clamp(min, Delay::zero(), max_);
}

ExponentialBackoff::Delay ExponentialBackoff::base() const {
  const Delay::rep min = min_.count();
  const Delay::rep max = max_.count();
  if (min == 0) {
    return Delay::zero();
  }
  // min << n is at most max exactly when min <= max >> n; testing it that way round never
  // overflows, however large n grows (past 62 shifts, max >> n is 0).
  if (attempt_ >= 63 || min > (max >> attempt_)) {
    return max_;
  }
  return Delay(min << attempt_);
}

ExponentialBackoff::Delay ExponentialBackoff::next() {
  const Delay d = base();
  if (attempt_ < std::numeric_limits<std::uint32_t>::max()) {
    ++attempt_;
  }
  if (!random_) {
    return d;
  }
  const Delay::rep hi = d.count();
  const Delay::rep lo = hi / 2;
  double u = random_();
  // Written so that a NaN from a broken source counts as 0 rather than reaching the cast below.
  u = u > 0.0 ? std::min(u, 1.0) : 0.0;
  // Each whole millisecond in [lo, hi] gets an equal share of [0, 1); u = 1 lands on hi. The
  // offset is capped before the addition, which therefore cannot pass hi (nor overflow at the
  // largest max).
  const auto offset = static_cast<Delay::rep>(std::floor(u * static_cast<double>(hi - lo + 1)));
  return Delay(lo + std::min(offset, hi - lo));
}

}  // namespace galaxy
