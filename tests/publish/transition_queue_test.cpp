#include "galaxy/publish/transition_queue.hpp"

#include <gtest/gtest.h>

namespace galaxy::publish {
namespace {

using contract::Event;
using contract::StateRecord;
using contract::Transition;

Transition events(int from, int n, std::vector<StateRecord> state = {}) {
  Transition t;
  for (int i = from; i < from + n; ++i) {
    t.events.push_back(Event{"g", "c", i, contract::ContainerStarted{"img"}});
  }
  t.state = std::move(state);
  return t;
}

TEST(TransitionQueue, BatchTakesEverythingQueuedInOrderWithLastStateWriteWinning) {
  TransitionQueue q(100, 100);
  EXPECT_EQ(q.push(events(0, 2, {{"cursor", "1"}, {"container/a", "{}"}})), PushResult::accepted);
  EXPECT_EQ(q.push(events(2, 1, {{"cursor", "2"}, {"container/a", std::nullopt}})),
            PushResult::accepted);
  auto b = q.take();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->number, 1U);
  EXPECT_EQ(b->transitions, 2U);
  ASSERT_EQ(b->events.size(), 3U);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(b->events[static_cast<std::size_t>(i)].occurred_at_ms, i);
  }
  EXPECT_EQ(b->state.at("cursor"), "2");
  EXPECT_EQ(b->state.at("container/a"), std::nullopt);
  EXPECT_FALSE(q.take()) << "one batch in flight at a time";
  EXPECT_FALSE(q.done());
  EXPECT_FALSE(q.take());
}

TEST(TransitionQueue, BatchesStopAtMaxBatchOnTransitionBoundaries) {
  TransitionQueue q(100, 5);
  q.push(events(0, 3));
  q.push(events(3, 3));
  q.push(events(6, 7));  // larger than a batch: taken alone
  auto b1 = q.take();
  ASSERT_TRUE(b1);
  EXPECT_EQ(b1->events.size(), 3U);
  q.done();
  auto b2 = q.take();
  ASSERT_TRUE(b2);
  EXPECT_EQ(b2->events.size(), 3U);
  q.done();
  auto b3 = q.take();
  ASSERT_TRUE(b3);
  EXPECT_EQ(b3->events.size(), 7U);
  EXPECT_EQ(b3->number, 3U);
}

TEST(TransitionQueue, OverflowTakesNothingOfTheTransitionAndDropsUntilDrained) {
  TransitionQueue q(5, 100);
  EXPECT_EQ(q.push(events(0, 4)), PushResult::accepted);
  EXPECT_EQ(q.push(events(4, 2)), PushResult::dropped_overflow_started);
  EXPECT_TRUE(q.overflowed());
  EXPECT_EQ(q.queued_units(), 4U) << "the transition that did not fit is not partially taken";
  EXPECT_EQ(q.push(events(6, 1)), PushResult::dropped) << "even one that would fit";
  auto b = q.take();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->events.size(), 4U);
  EXPECT_EQ(q.queued_units(), 4U) << "in flight still counts against the capacity";
  EXPECT_EQ(q.push(events(7, 1)), PushResult::dropped) << "still in flight: not drained yet";
  EXPECT_TRUE(q.done()) << "committing the last queued batch ends the episode";
  EXPECT_FALSE(q.overflowed());
  EXPECT_EQ(q.queued_units(), 0U);
  EXPECT_EQ(q.push(events(8, 1)), PushResult::accepted);
}

TEST(TransitionQueue, StateOnlyTransitionsCountAsOneAndEmptyOnesAreIgnored) {
  TransitionQueue q(2, 100);
  EXPECT_EQ(q.push(Transition{}), PushResult::accepted);
  EXPECT_EQ(q.queued_transitions(), 0U);
  EXPECT_EQ(q.push(Transition{{}, {{"cursor", "1"}}}), PushResult::accepted);
  EXPECT_EQ(q.push(Transition{{}, {{"cursor", "2"}}}), PushResult::accepted);
  EXPECT_EQ(q.push(Transition{{}, {{"cursor", "3"}}}), PushResult::dropped_overflow_started);
}

TEST(TransitionQueue, ClearReturnsTheDroppedEvents) {
  TransitionQueue q(100, 100);
  q.push(events(0, 3));
  q.push(Transition{{}, {{"cursor", "1"}}});
  EXPECT_EQ(q.clear(), 3U);
  EXPECT_EQ(q.queued_units(), 0U);
  EXPECT_FALSE(q.take());
}

}  // namespace
}  // namespace galaxy::publish
