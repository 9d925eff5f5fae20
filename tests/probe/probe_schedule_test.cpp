#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "galaxy/common/clock.hpp"
#include "galaxy/probe/schedule.hpp"
#include "galaxy/probe/scheduler.hpp"

namespace galaxy::probe {
namespace {

using std::chrono::milliseconds;
using Due = ProbeSchedule::Due;

std::vector<Due> pop_all(ProbeSchedule& s, ProbeSchedule::time_point now) {
  std::vector<Due> out;
  s.pop_due(now, [&](const Due& d) { out.push_back(d); });
  return out;
}

// The one timeline due at `now`.
Due pop_one(ProbeSchedule& s, ProbeSchedule::time_point now) {
  const auto due = pop_all(s, now);
  EXPECT_EQ(due.size(), 1U);
  return due.empty() ? Due{~0U, {}, 0} : due.front();
}

struct ScheduleFixture : ::testing::Test {
  ManualClock clock;
  ProbeSchedule::time_point t0 = clock.steady();
  ProbeSchedule s{1};
};

TEST(ProbeSchedule, FirstSlotIsAfterGracePlusAnOffsetWithinOnePeriod) {
  ManualClock clock;
  ProbeSchedule s(42);
  std::set<ProbeSchedule::time_point> firsts;
  for (std::uint32_t id = 0; id < 200; ++id) {
    const auto first = s.add(id, clock.steady(), milliseconds(10'000), milliseconds(5'000));
    EXPECT_GE(first, clock.steady() + milliseconds(10'000));
    EXPECT_LT(first, clock.steady() + milliseconds(15'000));
    firsts.insert(first);
  }
  EXPECT_GT(firsts.size(), 100U) << "targets added together must spread over the period";
}

TEST(ProbeSchedule, SameSeedSameOffsets) {
  ManualClock clock;
  ProbeSchedule a(7);
  ProbeSchedule b(7);
  for (std::uint32_t id = 0; id < 10; ++id) {
    EXPECT_EQ(a.add(id, clock.steady(), milliseconds(0), milliseconds(1000)),
              b.add(id, clock.steady(), milliseconds(0), milliseconds(1000)));
  }
}

TEST(ProbeSchedule, NothingIsDueBeforeTheFirstSlot) {
  ManualClock clock;
  ProbeSchedule s(1);
  s.add_at(3, clock.steady() + milliseconds(100), milliseconds(1000));
  EXPECT_TRUE(pop_all(s, clock.steady() + milliseconds(99)).empty());
  EXPECT_EQ(s.next_due(), clock.steady() + milliseconds(100));
}

TEST(ProbeSchedule, NextSlotFollowsTheGridNotTheWakeUpTime) {
  ManualClock clock;
  const auto t0 = clock.steady() + milliseconds(100);
  ProbeSchedule s(1);
  s.add_at(0, t0, milliseconds(1000));

  clock.advance(milliseconds(137));  // woken 37 ms late
  const Due due = pop_one(s, clock.steady());
  EXPECT_EQ(due.id, 0U);
  EXPECT_EQ(due.due, t0);
  EXPECT_EQ(due.skipped, 0U);
  EXPECT_EQ(s.next_due(), t0 + milliseconds(1000)) << "no drift by the late wake-up";

  clock.advance(milliseconds(1000));  // t0 + 1037
  EXPECT_EQ(pop_one(s, clock.steady()).due, t0 + milliseconds(1000));
  EXPECT_EQ(s.next_due(), t0 + milliseconds(2000));
}

TEST_F(ScheduleFixture, ALongStallSkipsSlotsInsteadOfBursting) {
  s.add_at(0, t0, milliseconds(1000));
  clock.advance(milliseconds(3500));
  const Due due = pop_one(s, clock.steady());  // one probe for the stall, not four
  EXPECT_EQ(due.due, t0);
  EXPECT_EQ(due.skipped, 3U);  // t0+1s, t0+2s, t0+3s passed unserved
  EXPECT_EQ(s.next_due(), t0 + milliseconds(4000));
}

TEST_F(ScheduleFixture, ASlotExactlyAtNowIsDueAndTheNextIsOnePeriodLater) {
  s.add_at(0, t0, milliseconds(250));
  EXPECT_EQ(pop_one(s, t0).due, t0);
  EXPECT_EQ(s.next_due(), t0 + milliseconds(250));
  EXPECT_TRUE(pop_all(s, t0).empty());
}

TEST_F(ScheduleFixture, TimelinesComeOutInDueOrder) {
  s.add_at(0, t0 + milliseconds(30), milliseconds(1000));
  s.add_at(1, t0 + milliseconds(10), milliseconds(1000));
  s.add_at(2, t0 + milliseconds(20), milliseconds(1000));
  const auto due = pop_all(s, t0 + milliseconds(30));
  ASSERT_EQ(due.size(), 3U);
  EXPECT_EQ(due[0].id, 1U);
  EXPECT_EQ(due[1].id, 2U);
  EXPECT_EQ(due[2].id, 0U);
  EXPECT_EQ(s.next_due(), t0 + milliseconds(1010));
}

TEST_F(ScheduleFixture, RemovedAndReAddedTimelinesLeaveNoGhostSlots) {
  s.add_at(0, t0 + milliseconds(10), milliseconds(1000));
  s.add_at(1, t0 + milliseconds(20), milliseconds(1000));
  s.remove(0);
  EXPECT_FALSE(s.contains(0));
  EXPECT_EQ(s.next_due(), t0 + milliseconds(20));
  s.add_at(1, t0 + milliseconds(500), milliseconds(1000));  // restart: the old slot is void
  const Due due = pop_one(s, t0 + milliseconds(600));
  EXPECT_EQ(due.id, 1U);
  EXPECT_EQ(due.due, t0 + milliseconds(500));
  EXPECT_EQ(s.next_due(), t0 + milliseconds(1500));
}

TEST(ProbeSchedule, ChurnKeepsServingEveryLiveTimelineOnce) {
  ManualClock clock;
  const auto t0 = clock.steady();
  ProbeSchedule s(9);
  for (int round = 0; round < 50; ++round) {
    for (std::uint32_t id = 0; id < 20; ++id) {
      s.add(id, t0, milliseconds(1000), milliseconds(1000));
    }
    for (std::uint32_t id = 0; id < 20; id += 2) {
      s.remove(id);
    }
  }
  const auto due = pop_all(s, t0 + milliseconds(1999));
  std::set<std::uint32_t> ids;
  for (const auto& d : due) {
    ids.insert(d.id);
    EXPECT_EQ(d.id % 2, 1U);
  }
  EXPECT_EQ(due.size(), 10U);
  EXPECT_EQ(ids.size(), 10U);
}

TEST(ProbeSchedule, BatchWakeRoundsUpToTheWindowAndNeverWakesEarly) {
  using tp = ProbeSchedule::time_point;
  const tp on_grid{milliseconds(1'000'005)};
  EXPECT_EQ(ProbeSchedule::batch_wake(on_grid, milliseconds(5)), on_grid);
  EXPECT_EQ(ProbeSchedule::batch_wake(on_grid + std::chrono::nanoseconds(1), milliseconds(5)),
            on_grid + milliseconds(5));
  EXPECT_EQ(ProbeSchedule::batch_wake(on_grid - std::chrono::nanoseconds(1), milliseconds(5)),
            on_grid);
  const tp anywhere{std::chrono::nanoseconds(123'456'789)};
  EXPECT_EQ(ProbeSchedule::batch_wake(anywhere, milliseconds(0)), anywhere);
  EXPECT_EQ(ProbeSchedule::batch_wake(anywhere, milliseconds(10)), tp{milliseconds(130)});
  // Slots due within one window share one wake-up.
  EXPECT_EQ(ProbeSchedule::batch_wake(tp{milliseconds(121)}, milliseconds(10)),
            ProbeSchedule::batch_wake(tp{milliseconds(129)}, milliseconds(10)));
}

TEST(ProbeSchedulerStats, LagQuantile) {
  ProbeSchedulerStats stats;
  EXPECT_EQ(stats.lag_quantile_ms(0.99), 0);
  stats.lag_ms[0] = 98;
  stats.lag_ms[7] = 1;
  stats.lag_ms[40] = 1;
  EXPECT_EQ(stats.lag_quantile_ms(0.5), 0);
  EXPECT_EQ(stats.lag_quantile_ms(0.99), 7);
  EXPECT_EQ(stats.lag_quantile_ms(1.0), 40);
}

}  // namespace
}  // namespace galaxy::probe
