// Pure parsers for Docker Engine API bodies, kept apart from I/O so they can be unit-tested and
// fuzzed. Bad input (garbage, truncated JSON, wrong types, oversized) is an Error naming a JSON
// pointer and a reason; nothing here throws or aborts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "galaxy/common/result.hpp"
#include "galaxy/docker/types.hpp"

namespace galaxy::docker {

// Docker's events are a few hundred bytes; a longer line means something is badly wrong.
inline constexpr std::size_t kDefaultMaxLineBytes = std::size_t{1} << 20;

// One line of the events stream (without its '\n'). Lines over max_bytes are rejected unread.
Result<DockerEvent> parse_event(std::string_view line,
                                std::size_t max_bytes = kDefaultMaxLineBytes);

// The body of GET /containers/{id}/json.
Result<ContainerInspect> parse_inspect(std::string_view json);

// The body of GET /containers/json.
Result<std::vector<ContainerSummary>> parse_container_list(std::string_view json);

// The body of GET /info (ID, Name and ServerVersion; the rest is ignored).
Result<DockerInfo> parse_info(std::string_view json);

// RFC 3339 with optional fraction (Docker's RFC3339Nano) to epoch milliseconds (truncated);
// Docker's zero time "0001-01-01T00:00:00Z" (any instant before 1970 really) gives nullopt.
Result<std::optional<std::int64_t>> parse_docker_time_ms(std::string_view text);

// "1.41" -> {1, 41}.
Result<ApiVersion> parse_api_version(std::string_view text);

// The version both sides speak: the lower of ours and the daemon's, or an error when the daemon
// is older than kMinimumApiVersion.
Result<ApiVersion> negotiate_api_version(std::string_view daemon_api_version);

}  // namespace galaxy::docker
