#include "galaxy/common/duration.hpp"

#include <charconv>
#include <cstdint>
#include <limits>

namespace galaxy {

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const std::string where = "duration '" + std::string(text) + "'";
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    return make_error(where, "expected a whole number followed by ms, s, m or h");
  }
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (ec != std::errc{} || ptr != text.data() + digits) {
    return make_error(where, "number out of range");
  }
  const std::string_view unit = text.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return make_error(where, "unit must be one of ms, s, m, h");
  }
  if (n > std::numeric_limits<std::int64_t>::max() / scale) {
    return make_error(where, "number out of range");
  }
  return std::chrono::milliseconds(n * scale);
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) {
    return std::to_string(ms / 3'600'000) + "h";
  }
  if (ms != 0 && ms % 60'000 == 0) {
    return std::to_string(ms / 60'000) + "m";
  }
  if (ms != 0 && ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  return std::to_string(ms) + "ms";
}

}  // namespace galaxy
