// The daemon's log lines: text for a person at a terminal or journald (which stamps lines
// itself), JSON lines for log pipelines (Loki, Elasticsearch, Vector): one object per line with
// time (RFC 3339, microseconds, UTC), level, logger, msg and host.
#pragma once

#include <spdlog/formatter.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace galaxy::daemon {

enum class LogFormat : std::uint8_t { automatic, text, json };

// auto: text when stderr is a terminal or JOURNAL_STREAM is set (journald), JSON otherwise.
LogFormat resolve_log_format(LogFormat requested, bool stderr_is_terminal, bool under_journald);

// spdlog does not escape %v, so a message with a quote, a newline or invalid UTF-8 would break a
// JSON line: this formatter escapes every string itself, replacing invalid UTF-8 with U+FFFD.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  explicit JsonLogFormatter(std::string host);
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  std::string host_;
};

// Appends s as a JSON string (quotes included) to out.
void append_json_string(std::string_view s, spdlog::memory_buf_t& out);

// The stderr logger of the daemon, named "runtime-manager", as the default logger.
void setup_logging(LogFormat format, const std::string& level);

}  // namespace galaxy::daemon
