#include "galaxy/cli/render.hpp"

#include <gtest/gtest.h>

namespace {

using galaxy::cli::format_duration_ms;
using galaxy::cli::format_utc_ms;
using galaxy::cli::render_event_line;
using galaxy::cli::render_invalid_line;
using galaxy::cli::render_table;
using galaxy::cli::Table;
namespace contract = galaxy::contract;

TEST(RenderTable, AlignsColumnsWithoutTrailingSpaces) {
  const Table t{{"NAME", "PENDING"}, {{"workers", "3"}, {"x", "12345678"}}};
  EXPECT_EQ(render_table(t, false),
            "NAME     PENDING\n"
            "workers  3\n"
            "x        12345678\n");
}

TEST(RenderTable, CountsCodePointsNotBytes) {
  const Table t{{"GAME", "N"}, {{"jeu-été", "1"}, {"abc", "2"}}};
  EXPECT_EQ(render_table(t, false),
            "GAME     N\n"
            "jeu-été  1\n"
            "abc      2\n");
}

TEST(RenderTable, ShortRowsAndColor) {
  const Table t{{"A", "B", "C"}, {{"1"}}};
  EXPECT_EQ(render_table(t, false), "A  B  C\n1\n");
  const auto colored = render_table(t, true);
  EXPECT_NE(colored.find("\x1b[1m"), std::string::npos);
  EXPECT_EQ(render_table(Table{{"A"}, {}}, false), "A\n");
}

TEST(FormatUtcMs, IsoWithMilliseconds) {
  EXPECT_EQ(format_utc_ms(1775121810000), "2026-04-02T09:23:30.000Z");
  EXPECT_EQ(format_utc_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_utc_ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_utc_ms(1700000000123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(format_utc_ms(9223372036854775807), "9223372036854775807");
}

TEST(FormatDurationMs, CoarserAsItGrowsRoundedDown) {
  EXPECT_EQ(format_duration_ms(0), "0s");
  EXPECT_EQ(format_duration_ms(999), "0s");
  EXPECT_EQ(format_duration_ms(3400), "3s");
  EXPECT_EQ(format_duration_ms(59999), "59s");
  EXPECT_EQ(format_duration_ms(60000), "1m0s");
  EXPECT_EQ(format_duration_ms(192000), "3m12s");
  EXPECT_EQ(format_duration_ms(3599999), "59m59s");
  EXPECT_EQ(format_duration_ms(3600000), "1h0m");
  EXPECT_EQ(format_duration_ms(18240000), "5h4m");
  EXPECT_EQ(format_duration_ms(86400000), "1d0h");
  EXPECT_EQ(format_duration_ms(266400000), "3d2h");
  // A negative duration is its magnitude (the caller words "ago" or "in").
  EXPECT_EQ(format_duration_ms(-40000), "40s");
  EXPECT_EQ(format_duration_ms(-9223372036854775807 - 1), "106751991167d7h");
}

contract::Event probe_failed() {
  return contract::Event{"game-123", "7c2b5d1a4f6e0123456789", 1775121810000,
                         contract::ProbeFailed{3, 0, "context deadline exceeded"}};
}

TEST(RenderEventLine, PlainRowShortensTheContainer) {
  EXPECT_EQ(render_event_line("1775121810000-0", probe_failed(), false),
            "1775121810000-0    2026-04-02T09:23:30.000Z  game-123        7c2b5d1a4f6e  "
            "probe_failed           "
            "{\"consecutive_failures\":3,\"last_status\":0,\"last_error\":\"context deadline "
            "exceeded\"}");
}

TEST(RenderEventLine, ColorOnlyWhenAsked) {
  const auto plain = render_event_line("1-0", probe_failed(), false);
  const auto colored = render_event_line("1-0", probe_failed(), true);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  EXPECT_NE(colored.find("\x1b[31mprobe_failed\x1b[0m"), std::string::npos);
}

TEST(RenderEventLine, NeverSplitsAUtf8Character) {
  auto e = probe_failed();
  e.container_id = "ééééééééééééééé";  // 15 two-byte characters
  const auto line = render_event_line("1-0", e, false);
  EXPECT_NE(line.find("éééééééééééé  "), std::string::npos);
  EXPECT_EQ(line.find("ééééééééééééé"), std::string::npos);
}

TEST(RenderInvalidLine, IdPathReason) {
  EXPECT_EQ(render_invalid_line("5-1", galaxy::Error{"/details", "must be an object"}, false),
            "invalid 5-1: /details: must be an object");
}

}  // namespace
