// Durations as operators write them in flags and config files: "250ms", "2s", "1m", "1h".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "galaxy/common/result.hpp"

namespace galaxy {

// Accepts a non-negative integer followed by one of ms, s, m, h. Errors name the input.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact spelling: 1500ms -> "1500ms", 2000ms -> "2s", 60000ms -> "1m".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace galaxy
