#include "galaxy/cli/output.hpp"

namespace galaxy::cli {

std::optional<OutputFormat> parse_output_format(std::string_view name) {
  for (std::size_t i = 0; i < kOutputFormatNames.size(); ++i) {
    if (name == kOutputFormatNames[i]) {
      return static_cast<OutputFormat>(i);
    }
  }
  return std::nullopt;
}

bool color_enabled(bool stdout_is_terminal, const char* no_color) {
  return stdout_is_terminal && (no_color == nullptr || *no_color == '\0');
}

}  // namespace galaxy::cli
