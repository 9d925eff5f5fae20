#include "galaxy/common/backoff.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace galaxy {
namespace {

using namespace std::chrono_literals;
using Delay = ExponentialBackoff::Delay;

// A UnitRandom that always returns u.
UnitRandom constant(double u) {
  return [u] { return u; };
}

std::vector<Delay> take(ExponentialBackoff& b, int n) {
  std::vector<Delay> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    out.push_back(b.next());
  }
  return out;
}

TEST(ExponentialBackoff, WithoutJitterDoublesExactlyUpToTheCap) {
  // The daemon's load_state retry: 250 ms doubling to 10 s.
  auto b = ExponentialBackoff::without_jitter(250ms, 10s);
  EXPECT_EQ(take(b, 8),
            (std::vector<Delay>{250ms, 500ms, 1000ms, 2000ms, 4000ms, 8000ms, 10s, 10s}));
}

TEST(ExponentialBackoff, EqualJitterSpansTheUpperHalfOfEachAttempt) {
  const std::vector<Delay> caps{100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms};
  auto low = ExponentialBackoff::with_equal_jitter(100ms, 1000ms, constant(0.0));
  auto high = ExponentialBackoff::with_equal_jitter(100ms, 1000ms, constant(1.0));
  for (const Delay cap : caps) {
    EXPECT_EQ(low.next(), cap / 2);
    EXPECT_EQ(high.next(), cap);
  }
}

TEST(ExponentialBackoff, EqualJitterIsLinearInTheDraw) {
  // The cases the durable sink's own copy was tested with.
  auto at = [](unsigned attempt, double u) {
    auto b = ExponentialBackoff::with_equal_jitter(100ms, 10s, constant(u));
    for (unsigned i = 0; i < attempt; ++i) {
      (void)b.next();
    }
    return b.next();
  };
  EXPECT_EQ(at(0, 1.0), 100ms);
  EXPECT_EQ(at(0, 0.0), 50ms);
  EXPECT_EQ(at(3, 1.0), 800ms);
  EXPECT_EQ(at(20, 1.0), 10s);
  EXPECT_EQ(at(1000, 0.5), 7500ms);
  EXPECT_EQ(at(0, 0.999999), 100ms);  // every millisecond of [50, 100] is reachable
}

TEST(ExponentialBackoff, SeededDrawsStayWithinBounds) {
  auto b = ExponentialBackoff::with_equal_jitter(100ms, 1000ms, seeded_unit_random(42));
  const std::vector<Delay> caps{100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms};
  for (int round = 0; round < 50; ++round) {
    for (const Delay cap : caps) {
      const Delay d = b.next();
      EXPECT_GE(d, cap / 2);
      EXPECT_LE(d, cap);
    }
    b.reset();
  }
}

TEST(ExponentialBackoff, SeedsGiveDifferentDelays) {
  // Jitter exists to spread reconnects: two clients should not wait identically every time.
  auto a = ExponentialBackoff::with_equal_jitter(100ms, 60s, seeded_unit_random(1));
  auto b = ExponentialBackoff::with_equal_jitter(100ms, 60s, seeded_unit_random(2));
  int same = 0;
  for (int i = 0; i < 20; ++i) {
    same += a.next() == b.next() ? 1 : 0;
  }
  EXPECT_LT(same, 20);
}

TEST(ExponentialBackoff, TheSameSeedRepeatsTheSameDelays) {
  auto a = ExponentialBackoff::with_equal_jitter(100ms, 60s, seeded_unit_random(7));
  auto b = ExponentialBackoff::with_equal_jitter(100ms, 60s, seeded_unit_random(7));
  EXPECT_EQ(take(a, 20), take(b, 20));
}

TEST(ExponentialBackoff, ResetStartsOverFromMin) {
  auto b = ExponentialBackoff::without_jitter(100ms, 5s);
  EXPECT_EQ(b.attempt(), 0U);
  (void)take(b, 30);
  EXPECT_EQ(b.attempt(), 30U);
  b.reset();
  EXPECT_EQ(b.attempt(), 0U);
  EXPECT_EQ(b.next(), 100ms);
  EXPECT_EQ(b.attempt(), 1U);
}

TEST(ExponentialBackoff, ManyAttemptsStayAtMaxWithoutOverflow) {
  auto b = ExponentialBackoff::with_equal_jitter(1ms, 30s, seeded_unit_random(3));
  for (int i = 0; i < 200; ++i) {
    const Delay d = b.next();
    EXPECT_LE(d, 30s);
    EXPECT_GE(d, 0ms);
  }
  auto exact = ExponentialBackoff::without_jitter(1ms, 30s);
  (void)take(exact, 200);
  EXPECT_EQ(exact.next(), 30s);
}

TEST(ExponentialBackoff, TheLargestMaxIsReachedWithoutOverflow) {
  constexpr Delay kMax = Delay::max();
  auto exact = ExponentialBackoff::without_jitter(1ms, kMax);
  Delay last = 0ms;
  for (int i = 0; i < 100; ++i) {
    const Delay d = exact.next();
    EXPECT_GE(d, last) << "attempt " << i;
    last = d;
  }
  EXPECT_EQ(last, kMax);
  auto top = ExponentialBackoff::with_equal_jitter(1ms, kMax, constant(1.0));
  (void)take(top, 100);
  EXPECT_EQ(top.next(), kMax);
  auto bottom = ExponentialBackoff::with_equal_jitter(1ms, kMax, constant(0.0));
  (void)take(bottom, 100);
  EXPECT_EQ(bottom.next(), kMax / 2);
}

TEST(ExponentialBackoff, MinAboveMaxIsLoweredToMax) {
  // max is the promise that no wait is longer, so it wins.
  auto b = ExponentialBackoff::without_jitter(5s, 1s);
  EXPECT_EQ(b.min(), 1s);
  EXPECT_EQ(b.max(), 1s);
  EXPECT_EQ(take(b, 3), (std::vector<Delay>{1s, 1s, 1s}));
}

TEST(ExponentialBackoff, NegativeBoundsCountAsZero) {
  auto b = ExponentialBackoff::without_jitter(-5ms, -1ms);
  EXPECT_EQ(b.min(), 0ms);
  EXPECT_EQ(b.max(), 0ms);
  EXPECT_EQ(b.next(), 0ms);
}

TEST(ExponentialBackoff, ZeroMinRetriesAtOnce) {
  auto b = ExponentialBackoff::with_equal_jitter(0ms, 10s, constant(1.0));
  EXPECT_EQ(take(b, 70), std::vector<Delay>(70, 0ms));
}

TEST(ExponentialBackoff, DrawsOutsideTheUnitIntervalAreClamped) {
  auto above = ExponentialBackoff::with_equal_jitter(100ms, 1s, constant(7.0));
  EXPECT_EQ(above.next(), 100ms);
  auto below = ExponentialBackoff::with_equal_jitter(100ms, 1s, constant(-3.0));
  EXPECT_EQ(below.next(), 50ms);
  auto nan = ExponentialBackoff::with_equal_jitter(
      100ms, 1s, constant(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_EQ(nan.next(), 50ms);
}

TEST(RandomSeed, SeededUnitRandomStaysInTheUnitInterval) {
  auto u = seeded_unit_random(random_seed());
  for (int i = 0; i < 1000; ++i) {
    const double x = u();
    EXPECT_GE(x, 0.0);
    EXPECT_LE(x, 1.0);
  }
}

}  // namespace
}  // namespace galaxy
