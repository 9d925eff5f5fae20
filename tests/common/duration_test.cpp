#include "galaxy/common/duration.hpp"

#include <gtest/gtest.h>

namespace galaxy {
namespace {

using std::chrono::milliseconds;

TEST(Duration, ParsesEachUnit) {
  EXPECT_EQ(parse_duration("250ms").value(), milliseconds(250));
  EXPECT_EQ(parse_duration("2s").value(), milliseconds(2000));
  EXPECT_EQ(parse_duration("1m").value(), milliseconds(60'000));
  EXPECT_EQ(parse_duration("1h").value(), milliseconds(3'600'000));
  EXPECT_EQ(parse_duration("0s").value(), milliseconds(0));
}

TEST(Duration, RejectsWithTheInputNamed) {
  for (const char* bad : {"", "s", "5", "5 s", "-1s", "1.5s", "5d", "99999999999999999999ms"}) {
    auto r = parse_duration(bad);
    ASSERT_TRUE(r.has_error()) << bad;
    EXPECT_EQ(r.error().path, std::string("duration '") + bad + "'");
  }
  EXPECT_TRUE(parse_duration("9223372036854775807h").has_error());
}

TEST(Duration, FormatsShortestExactUnit) {
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(milliseconds(2000)), "2s");
  EXPECT_EQ(format_duration(milliseconds(60'000)), "1m");
  EXPECT_EQ(format_duration(milliseconds(0)), "0ms");
}

}  // namespace
}  // namespace galaxy
