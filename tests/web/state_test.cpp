#include "galaxy/web/state.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace galaxy::web {
namespace {

using contract::EventType;

TEST(WebState, EachEventTypeLeavesAGameInOneState) {
  EXPECT_EQ(state_after(EventType::container_started), HealthState::healthy);
  EXPECT_EQ(state_after(EventType::probe_recovered), HealthState::healthy);
  EXPECT_EQ(state_after(EventType::inspect_unhealthy), HealthState::unhealthy);
  EXPECT_EQ(state_after(EventType::probe_failed), HealthState::unhealthy);
  EXPECT_EQ(state_after(EventType::container_exited), HealthState::exited);
  EXPECT_EQ(state_after(EventType::container_oom), HealthState::exited);
  EXPECT_EQ(state_after(EventType::container_disappeared), HealthState::gone);
  EXPECT_EQ(to_string(HealthState::gone), "gone");
  // The inspect that follows an exit reports the container's Docker state: still exited.
  EXPECT_EQ(state_after(EventType::inspect_unhealthy, "exited"), HealthState::exited);
  EXPECT_EQ(state_after(EventType::inspect_unhealthy, "dead"), HealthState::exited);
  EXPECT_EQ(state_after(EventType::inspect_unhealthy, "restarting"), HealthState::unhealthy);
  EXPECT_EQ(state_after(contract::Event{"g", "c", 1, contract::InspectUnhealthy{0, "exited", ""}}),
            HealthState::exited);
}

TEST(WebState, EntryIdsCompareAsTwoIntegers) {
  EXPECT_EQ(compare_ids("10-0", "9-5"), 1) << "not as text";
  EXPECT_EQ(compare_ids("9-5", "9-10"), -1);
  EXPECT_EQ(compare_ids("9-5", "9-5"), 0);
  EXPECT_EQ(compare_ids("9", "9-5"), std::nullopt);
  EXPECT_FALSE(valid_id("9-"));
  EXPECT_FALSE(valid_id("-1"));
  EXPECT_FALSE(valid_id("1-2-3"));
  EXPECT_FALSE(valid_id("a-1"));
  EXPECT_FALSE(valid_id(""));
  EXPECT_TRUE(valid_id("0-0"));
  EXPECT_TRUE(valid_id("1764680000000-12"));
}

TEST(WebState, AHealthEventIsOneFrameWithItsIdAndState) {
  const contract::Event e{"game-1", "c1", 1700, contract::ContainerExited{137, true}};
  const auto frame = sse_frame("5-1", contract::encode_entry(e));
  ASSERT_TRUE(frame.starts_with("id: 5-1\nevent: health\ndata: ")) << frame;
  ASSERT_TRUE(frame.ends_with("\n\n"));
  const auto data = frame.substr(frame.find("data: ") + 6);
  EXPECT_EQ(data.find('\n'), data.size() - 2) << "one data line";
  const auto o = boost::json::parse(data).as_object();
  EXPECT_EQ(o.at("id"), "5-1");
  EXPECT_EQ(o.at("game_id"), "game-1");
  EXPECT_EQ(o.at("event_type"), "container_exited");
  EXPECT_EQ(o.at("state"), "exited");
  EXPECT_EQ(o.at("details").at("exit_code"), 137);
  EXPECT_EQ(o.at("details").as_object().size(), 2U) << "details stay the contract's";
}

TEST(WebState, AnEntryThatIsNoHealthEventIsAnInvalidFrameNamingWhy) {
  contract::EntryFields fields{{"game_id", "g"}, {"event_type", "container_started"}};
  const auto frame = sse_frame("6-0", fields);
  ASSERT_TRUE(frame.starts_with("id: 6-0\nevent: invalid\ndata: ")) << frame;
  const auto o = boost::json::parse(frame.substr(frame.find("data: ") + 6)).as_object();
  EXPECT_EQ(o.at("id"), "6-0");
  EXPECT_FALSE(o.at("error").as_string().empty());
}

}  // namespace
}  // namespace galaxy::web
