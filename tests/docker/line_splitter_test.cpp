#include "line_splitter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace galaxy::docker::detail {
namespace {

struct Collected {
  std::vector<std::string> lines;
  std::vector<std::size_t> overflows;
};

void feed(LineSplitter& s, std::string_view data, Collected& out) {
  s.feed(
      data, [&](std::string_view l) { out.lines.emplace_back(l); },
      [&](std::size_t n) { out.overflows.push_back(n); });
}

TEST(LineSplitter, JoinsPiecesAndSkipsEmptyLines) {
  LineSplitter s(16);
  Collected out;
  for (std::string_view piece : {"ab", "c\nd", "", "e\n\n", "\nf", "g\nh"}) {
    feed(s, piece, out);
  }
  EXPECT_EQ(out.lines, (std::vector<std::string>{"abc", "de", "fg"}));
  EXPECT_TRUE(out.overflows.empty());
  EXPECT_EQ(s.pending(), 1U);  // "h" waits for its newline
}

TEST(LineSplitter, LineAtTheLimitPassesOneMoreByteOverflows) {
  LineSplitter s(4);
  Collected out;
  feed(s, "abcd\nabcde\nxy\n", out);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"abcd", "xy"}));
  EXPECT_EQ(out.overflows, (std::vector<std::size_t>{5}));
}

TEST(LineSplitter, OverflowAcrossManyPiecesIsCountedNotStored) {
  LineSplitter s(10);
  Collected out;
  feed(s, "12345", out);
  for (int i = 0; i < 1000; ++i) {
    feed(s, "xxxxxxxxxx", out);
  }
  EXPECT_EQ(s.pending(), 10'005U);
  feed(s, "\nok\n", out);
  EXPECT_EQ(out.overflows, (std::vector<std::size_t>{10'005}));
  EXPECT_EQ(out.lines, (std::vector<std::string>{"ok"}));
  EXPECT_EQ(s.pending(), 0U);
}

}  // namespace
}  // namespace galaxy::docker::detail
