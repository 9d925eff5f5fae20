#include "galaxy/daemon/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <string>

namespace galaxy::daemon {
namespace {

std::string line_for(std::string_view text, spdlog::level::level_enum level = spdlog::level::warn) {
  JsonLogFormatter f("host-1");
  spdlog::details::log_msg msg("runtime-manager", level, text);
  msg.time =
      std::chrono::system_clock::time_point(std::chrono::microseconds(1'775'121'810'123'456));
  spdlog::memory_buf_t out;
  f.format(msg, out);
  return {out.data(), out.size()};
}

TEST(JsonLog, OneObjectPerLineWithTheFields) {
  const auto line = line_for("resync complete: 3 containers watched, 12 ms");
  EXPECT_EQ(line,
            "{\"time\":\"2026-04-02T09:23:30.123456Z\",\"level\":\"warning\","
            "\"logger\":\"runtime-manager\",\"host\":\"host-1\","
            "\"msg\":\"resync complete: 3 containers watched, 12 ms\"}\n");
}

TEST(JsonLog, StaysValidJsonForAnyMessage) {
  const std::string nasty = std::string("quote \" backslash \\ newline\n tab\t bell\x07 ") +
                            "caf\xC3\xA9 bad\xFF\xC3 overlong\xC0\xAF surrogate\xED\xA0\x80 end";
  const auto line = line_for(nasty);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  boost::system::error_code ec;
  const auto v = boost::json::parse(line, ec);
  ASSERT_FALSE(ec) << line;
  const std::string msg(v.at("msg").as_string());
  EXPECT_EQ(
      msg,
      "quote \" backslash \\ newline\n tab\t bell\x07 caf\xC3\xA9 bad\xEF\xBF\xBD\xEF\xBF\xBD "
      "overlong\xEF\xBF\xBD\xEF\xBF\xBD surrogate\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end");
}

TEST(JsonLog, AutoIsTextForPeopleAndJournaldAndJsonOtherwise) {
  EXPECT_EQ(resolve_log_format(LogFormat::automatic, true, false), LogFormat::text);
  EXPECT_EQ(resolve_log_format(LogFormat::automatic, false, true), LogFormat::text);
  EXPECT_EQ(resolve_log_format(LogFormat::automatic, false, false), LogFormat::json);
  EXPECT_EQ(resolve_log_format(LogFormat::json, true, true), LogFormat::json);
  EXPECT_EQ(resolve_log_format(LogFormat::text, false, false), LogFormat::text);
}

}  // namespace
}  // namespace galaxy::daemon
