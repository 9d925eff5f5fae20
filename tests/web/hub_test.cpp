#include "galaxy/web/hub.hpp"

#include <gtest/gtest.h>

namespace galaxy::web {
namespace {

std::vector<Frame> frames(int from, int to) {
  std::vector<Frame> out;
  for (int i = from; i <= to; ++i) {
    const std::string id = std::to_string(i) + "-0";
    out.push_back(Frame{id, "id: " + id + "\n\n"});
  }
  return out;
}

std::vector<std::string> ids(const Subscriber& s) {
  std::vector<std::string> out;
  for (const auto& f : s.queue) {
    out.push_back(f->id);
  }
  return out;
}

TEST(EventHub, AFreshPageGetsTheBacklogThenWhatIsPublished) {
  EventHub hub({.ring = 5});
  hub.publish(frames(1, 8));
  hub.set_ready();
  auto s = hub.subscribe_fresh(3);
  EXPECT_EQ(ids(*s), (std::vector<std::string>{"6-0", "7-0", "8-0"}));
  hub.publish(frames(9, 9));
  EXPECT_EQ(ids(*s).back(), "9-0");
  auto all = hub.subscribe_fresh(100);
  EXPECT_EQ(ids(*all).size(), 5U) << "no more than the ring holds";
}

TEST(EventHub, AResumeInsideTheRingGetsExactlyWhatFollows) {
  EventHub hub({.ring = 5});
  hub.publish(frames(1, 8));
  hub.set_ready();
  auto sub = hub.subscribe_after("5-0");
  EXPECT_FALSE(sub.catch_up.has_value());
  EXPECT_EQ(ids(*sub.subscriber), (std::vector<std::string>{"6-0", "7-0", "8-0"}));
  auto at_front = hub.subscribe_after("4-0");
  EXPECT_FALSE(at_front.catch_up.has_value()) << "the ring's front is 4-0: nothing is missing";
  EXPECT_EQ(ids(*at_front.subscriber).front(), "5-0");
  auto newest = hub.subscribe_after("8-0");
  EXPECT_TRUE(newest.subscriber->queue.empty());
}

TEST(EventHub, AResumeOlderThanTheRingCatchesUpBetweenItAndTheRing) {
  EventHub hub({.ring = 5});
  hub.publish(frames(1, 8));
  hub.set_ready();
  auto sub = hub.subscribe_after("2-0");
  ASSERT_TRUE(sub.catch_up.has_value());
  EXPECT_EQ(sub.catch_up->after, "2-0");
  EXPECT_EQ(sub.catch_up->before, "4-0");
  EXPECT_EQ(ids(*sub.subscriber).front(), "4-0") << "the ring follows the catch-up";
  EXPECT_EQ(ids(*sub.subscriber).size(), 5U);
}

TEST(EventHub, APageThatFallsBehindOverflowsInsteadOfGrowing) {
  EventHub hub({.ring = 5, .max_queue_bytes = 30});
  hub.set_ready();
  int wakes = 0;
  auto slow = hub.subscribe_fresh(0);
  slow->wake = [&] { ++wakes; };
  auto fast = hub.subscribe_fresh(0);
  hub.publish(frames(1, 3));  // 3 frames of 9 bytes
  EXPECT_FALSE(slow->overflowed);
  while (!fast->queue.empty()) {
    fast->pop_front();  // this page keeps up
  }
  hub.publish(frames(4, 4));
  EXPECT_TRUE(slow->overflowed);
  EXPECT_TRUE(slow->queue.empty()) << "nothing is kept for a page that will be closed";
  EXPECT_EQ(wakes, 4) << "woken to close it";
  EXPECT_EQ(hub.stats().overflows, 1U);
  hub.publish(frames(5, 5));
  EXPECT_EQ(ids(*fast), (std::vector<std::string>{"4-0", "5-0"}));
  EXPECT_EQ(fast->queued_bytes, 18U);
  EXPECT_FALSE(fast->overflowed);
}

TEST(EventHub, StatusFramesReachEveryPageAndMoveNoId) {
  EventHub hub({.ring = 5});
  hub.publish(frames(1, 2));
  hub.set_ready();
  auto s = hub.subscribe_after("1-0").subscriber;
  hub.broadcast("event: status\n\n");
  ASSERT_EQ(s->queue.size(), 2U);
  EXPECT_EQ(s->queue.back()->id, "");
  EXPECT_EQ(s->last_id, "2-0");
  hub.unsubscribe(s);
  EXPECT_EQ(hub.stats().subscribers, 0U);
}

}  // namespace
}  // namespace galaxy::web
