// How snapshot and stats print, after kubectl: -o table (the default), -o wide (more columns),
// -o json (one JSON object per line), --no-headers; and when any command colors its output.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace galaxy::cli {

enum class OutputFormat : std::uint8_t { table, wide, json };

// The values of -o/--output, in the order help and completion show them.
inline constexpr std::array<std::string_view, 3> kOutputFormatNames = {"table", "wide", "json"};

// One of kOutputFormatNames (exact, lower case), else nullopt. Pure.
std::optional<OutputFormat> parse_output_format(std::string_view name);

struct OutputOptions {
  OutputFormat format = OutputFormat::table;
  bool headers = true;  // table and wide: the header row (--no-headers drops it); json: unused
  bool color = false;   // ANSI colors (bold headers) in table and wide
};

// Whether output is colored: only when stdout is a terminal, and never while NO_COLOR is set to a
// non-empty value (https://no-color.org: an empty NO_COLOR counts as unset). `no_color` is the
// variable's value as getenv returns it (nullptr: unset). Pure.
bool color_enabled(bool stdout_is_terminal, const char* no_color);

}  // namespace galaxy::cli
