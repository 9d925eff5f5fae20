// Human-readable output of galaxy-health: aligned tables and one-line event rows, with ANSI
// colors only when asked (the CLI asks when color_enabled says so). Pure, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/common/result.hpp"
#include "galaxy/contract/event.hpp"

namespace galaxy::cli {

struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;  // short rows are padded with empty cells
};

// Columns separated by two spaces and padded to the widest cell (in code points, so UTF-8 game
// IDs line up); no trailing spaces; one '\n' after every line. Headers bold when color is set.
std::string render_table(const Table& table, bool color);

// occurred_at_ms as "2026-04-02T09:23:30.000Z"; the plain number outside years 0000-9999.
std::string format_utc_ms(std::int64_t ms);

// A non-negative duration, coarser as it grows (whole units, rounded down): "0s", "45s",
// "3m12s", "5h4m", "3d2h". A negative one is taken as its magnitude. Pure.
std::string format_duration_ms(std::int64_t ms);

// Docker's short form of a container ID: its first 12 characters, which identify a container well
// enough on screen (never splitting a UTF-8 character).
std::string_view short_container_id(std::string_view id);

// The column header matching render_event_line.
std::string render_event_header(bool color);
// One event as a fixed-width row: ID, time, game, container, type (colored by severity when
// color is set), then the details as compact JSON. No trailing '\n'.
std::string render_event_line(std::string_view id, const contract::Event& event, bool color);
// "invalid <id>: <path>: <reason>", red when color is set. No trailing '\n'.
std::string render_invalid_line(std::string_view id, const Error& error, bool color);

}  // namespace galaxy::cli
