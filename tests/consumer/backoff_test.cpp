#include "galaxy/consumer/backoff.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using galaxy::consumer::Backoff;

TEST(Backoff, DoublesWithJitterUpToTheCap) {
  Backoff b(100ms, 1000ms, 42);
  const std::chrono::milliseconds caps[] = {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms};
  for (const auto cap : caps) {
    const auto d = b.next();
    EXPECT_GE(d, cap / 2);
    EXPECT_LE(d, cap);
  }
}

TEST(Backoff, ResetStartsOver) {
  Backoff b(100ms, 5000ms, 7);
  for (int i = 0; i < 30; ++i) {
    (void)b.next();
  }
  b.reset();
  EXPECT_LE(b.next(), 100ms);
}

TEST(Backoff, SeedsGiveDifferentDelays) {
  // Jitter exists to spread reconnects: two consumers should not wait identically every time.
  Backoff a(100ms, 60000ms, 1);
  Backoff b(100ms, 60000ms, 2);
  int same = 0;
  for (int i = 0; i < 20; ++i) {
    same += a.next() == b.next() ? 1 : 0;
  }
  EXPECT_LT(same, 20);
}

TEST(Backoff, ManyAttemptsStayAtMax) {
  Backoff b(1ms, 30000ms, 3);
  for (int i = 0; i < 200; ++i) {
    const auto d = b.next();
    EXPECT_LE(d, 30000ms);
    EXPECT_GE(d, 0ms);
  }
}

}  // namespace
