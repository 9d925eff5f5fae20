#include "galaxy/daemon/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <ctime>

namespace galaxy::daemon {

LogFormat resolve_log_format(LogFormat requested, bool stderr_is_terminal, bool under_journald) {
  if (requested != LogFormat::automatic) {
    return requested;
  }
  return stderr_is_terminal || under_journald ? LogFormat::text : LogFormat::json;
}

namespace {

void append(spdlog::memory_buf_t& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

// The length of the valid UTF-8 sequence at s[i], or 0 when it is not one (overlong forms,
// surrogates and code points above U+10FFFF included).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) {
    return cont(1) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) {
      return 0;
    }
    if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) > 0x9F)) {
      return 0;
    }
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) {
      return 0;
    }
    if ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) > 0x8F)) {
      return 0;
    }
    return 4;
  }
  return 0;
}

}  // namespace

void append_json_string(std::string_view s, spdlog::memory_buf_t& out) {
  static constexpr std::array<char, 16> kHex{'0', '1', '2', '3', '4', '5', '6', '7',
                                             '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\n') {
      append(out, "\\n");
      ++i;
    } else if (c == '\r') {
      append(out, "\\r");
      ++i;
    } else if (c == '\t') {
      append(out, "\\t");
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      append(out, "\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (const std::size_t n = utf8_sequence(s, i); n > 0) {
      append(out, s.substr(i, n));
      i += n;
    } else {
      append(out, "\xEF\xBF\xBD");  // U+FFFD for each byte that is not valid UTF-8
      ++i;
    }
  }
  out.push_back('"');
}

JsonLogFormatter::JsonLogFormatter(std::string host) : host_(std::move(host)) {}

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  const auto since = msg.time.time_since_epoch();
  const auto secs = duration_cast<seconds>(since);
  const auto micros = duration_cast<microseconds>(since - secs).count();
  const std::time_t t = secs.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  std::array<char, 48> stamp{};
  const auto n = std::strftime(stamp.data(), stamp.size(), "%Y-%m-%dT%H:%M:%S", &utc);
  append(dest, "{\"time\":\"");
  append(dest, std::string_view(stamp.data(), n));
  const std::string frac = fmt::format(".{:06}Z\",\"level\":", micros);
  append(dest, frac);
  const auto level = spdlog::level::to_string_view(msg.level);
  append_json_string(std::string_view(level.data(), level.size()), dest);
  append(dest, ",\"logger\":");
  append_json_string(std::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
  append(dest, ",\"host\":");
  append_json_string(host_, dest);
  append(dest, ",\"msg\":");
  append_json_string(std::string_view(msg.payload.data(), msg.payload.size()), dest);
  append(dest, "}\n");
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>(host_);
}

void setup_logging(LogFormat format, const std::string& level) {
  auto logger = spdlog::stderr_color_mt("runtime-manager");
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const bool journald = std::getenv("JOURNAL_STREAM") != nullptr;  // NOLINT(concurrency-mt-unsafe)
  if (resolve_log_format(format, tty, journald) == LogFormat::json) {
    std::array<char, 256> host{};
    ::gethostname(host.data(), host.size() - 1);
    logger->set_formatter(std::make_unique<JsonLogFormatter>(host.data()));
  } else {
    // Microseconds: event timing questions (how long after dockerd's stamp an event reached us)
    // are answered from the log.
    logger->set_pattern("[%Y-%m-%d %H:%M:%S.%f] [%n] [%^%l%$] %v");
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace galaxy::daemon
