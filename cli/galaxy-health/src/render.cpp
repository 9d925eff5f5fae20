#include "galaxy/cli/render.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "galaxy/contract/codec.hpp"

namespace galaxy::cli {

namespace {

constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kRed = "\x1b[31m";
constexpr std::string_view kGreen = "\x1b[32m";
constexpr std::string_view kYellow = "\x1b[33m";
constexpr std::string_view kMagenta = "\x1b[35m";
constexpr std::string_view kReset = "\x1b[0m";

// Display width approximated by code points: good enough to align IDs and names, which is all
// the tables hold (no library on this machine measures terminal cell widths).
std::size_t width(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
}

// The prefix of at most n code points, never splitting a UTF-8 sequence.
std::string_view truncate(std::string_view s, std::size_t n) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0U) != 0x80U && seen++ == n) {
      return s.substr(0, i);
    }
  }
  return s;
}

std::string pad(std::string_view s, std::size_t to) {
  std::string out(s);
  const auto w = width(s);
  if (w < to) {
    out.append(to - w, ' ');
  }
  return out;
}

std::string paint(std::string_view s, std::string_view color_code, bool color) {
  if (!color) {
    return std::string(s);
  }
  return fmt::format("{}{}{}", color_code, s, kReset);
}

std::string_view type_color(contract::EventType t) {
  switch (t) {
    case contract::EventType::container_started:
    case contract::EventType::probe_recovered:
      return kGreen;
    case contract::EventType::container_exited:
      return kYellow;
    case contract::EventType::container_disappeared:
      return kMagenta;
    case contract::EventType::container_oom:
    case contract::EventType::inspect_unhealthy:
    case contract::EventType::probe_failed:
      return kRed;
  }
  return kReset;
}

constexpr std::size_t kIdWidth = 17;
constexpr std::size_t kTimeWidth = 24;
constexpr std::size_t kGameWidth = 14;
constexpr std::size_t kContainerWidth = 12;
constexpr std::size_t kTypeWidth = 21;

std::string event_row(std::string_view id, std::string_view time, std::string_view game,
                      std::string_view container, std::string type_cell, std::size_t type_w,
                      std::string_view details) {
  return fmt::format("{}  {}  {}  {}  {}  {}", pad(id, kIdWidth), pad(time, kTimeWidth),
                     pad(game, kGameWidth), pad(container, kContainerWidth),
                     type_cell.append(kTypeWidth > type_w ? kTypeWidth - type_w : 0, ' '), details);
}

}  // namespace

std::string render_table(const Table& table, bool color) {
  std::size_t columns = table.headers.size();
  for (const auto& row : table.rows) {
    columns = std::max(columns, row.size());
  }
  std::vector<std::size_t> widths(columns, 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], width(row[i]));
    }
  };
  measure(table.headers);
  for (const auto& row : table.rows) {
    measure(row);
  }
  auto line = [&](const std::vector<std::string>& row, bool header) {
    std::string out;
    for (std::size_t i = 0; i < columns; ++i) {
      const std::string_view cell = i < row.size() ? std::string_view(row[i]) : "";
      const bool last = i + 1 == columns;
      std::string text = last ? std::string(cell) : pad(cell, widths[i]);
      out += header ? paint(text, kBold, color) : text;
      if (!last) {
        out += "  ";
      }
    }
    while (!out.empty() && out.back() == ' ') {
      out.pop_back();
    }
    out += '\n';
    return out;
  };
  std::string out = table.headers.empty() ? std::string{} : line(table.headers, true);
  for (const auto& row : table.rows) {
    out += line(row, false);
  }
  return out;
}

std::string format_utc_ms(std::int64_t ms) {
  using namespace std::chrono;
  // Years 0000-9999 only: beyond them the ISO form needs a sign and more digits.
  constexpr std::int64_t kMin = -62167219200000;  // 0000-01-01T00:00:00Z
  constexpr std::int64_t kMax = 253402300799999;  // 9999-12-31T23:59:59.999Z
  if (ms < kMin || ms > kMax) {
    return std::to_string(ms);
  }
  const sys_time<milliseconds> tp{milliseconds(ms)};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{tp - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                     hms.subseconds().count());
}

std::string format_duration_ms(std::int64_t ms) {
  // The magnitude in seconds, computed without negating (INT64_MIN has no positive).
  const std::uint64_t s = ms < 0 ? (static_cast<std::uint64_t>(-(ms + 1)) + 1) / 1000
                                 : static_cast<std::uint64_t>(ms) / 1000;
  constexpr std::uint64_t kMinute = 60;
  constexpr std::uint64_t kHour = 60 * kMinute;
  constexpr std::uint64_t kDay = 24 * kHour;
  if (s < kMinute) {
    return fmt::format("{}s", s);
  }
  if (s < kHour) {
    return fmt::format("{}m{}s", s / kMinute, s % kMinute);
  }
  if (s < kDay) {
    return fmt::format("{}h{}m", s / kHour, s % kHour / kMinute);
  }
  return fmt::format("{}d{}h", s / kDay, s % kDay / kHour);
}

std::string render_event_header(bool color) {
  const auto row = event_row("ID", "OCCURRED (UTC)", "GAME", "CONTAINER", "TYPE", 4, "DETAILS");
  return paint(row, kBold, color);
}

std::string_view short_container_id(std::string_view id) {
  return truncate(id, kContainerWidth);
}

std::string render_event_line(std::string_view id, const contract::Event& event, bool color) {
  const auto type = contract::to_string(event.type());
  return event_row(id, format_utc_ms(event.occurred_at_ms), event.game_id,
                   short_container_id(event.container_id),
                   paint(type, type_color(event.type()), color), type.size(),
                   contract::encode_details(event.details));
}

std::string render_invalid_line(std::string_view id, const Error& error, bool color) {
  return paint(fmt::format("invalid {}: {}", id, error.message()), kRed, color);
}

}  // namespace galaxy::cli
