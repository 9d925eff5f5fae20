// The RuntimeHealthEvent of contract/runtime-health-events.asyncapi.yaml as a C++ value.
//
// event_type is not stored: it is the index of the details variant, so an event whose type and
// details disagree cannot be built (the contract's oneOf alone does not tie them together).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace galaxy::contract {

struct ContainerStarted {
  std::string image_ref;
  bool operator==(const ContainerStarted&) const = default;
};
struct ContainerExited {
  std::int64_t exit_code = 0;
  bool oom = false;
  bool operator==(const ContainerExited&) const = default;
};
struct ContainerOom {
  std::int64_t exit_code = 0;
  bool operator==(const ContainerOom&) const = default;
};
struct ContainerDisappeared {
  bool operator==(const ContainerDisappeared&) const = default;
};
struct InspectUnhealthy {
  std::int64_t restart_count = 0;
  std::string state;
  std::string health;  // "" when the image declares no HEALTHCHECK
  bool operator==(const InspectUnhealthy&) const = default;
};
struct ProbeFailed {
  std::int64_t consecutive_failures = 0;
  std::int64_t last_status = 0;  // 0 when no HTTP response was received
  std::string last_error;        // "" when an HTTP response was received
  bool operator==(const ProbeFailed&) const = default;
};
struct ProbeRecovered {
  std::int64_t prior_failure_count = 0;
  bool operator==(const ProbeRecovered&) const = default;
};

// Alternatives are in the order of the contract's EventType enum; EventType values index them.
using Details = std::variant<ContainerStarted, ContainerExited, ContainerOom, ContainerDisappeared,
                             InspectUnhealthy, ProbeFailed, ProbeRecovered>;

enum class EventType : std::uint8_t {
  container_started = 0,
  container_exited = 1,
  container_oom = 2,
  container_disappeared = 3,
  inspect_unhealthy = 4,
  probe_failed = 5,
  probe_recovered = 6,
};

inline constexpr std::size_t kEventTypeCount = std::variant_size_v<Details>;

inline constexpr std::array<std::string_view, kEventTypeCount> kEventTypeNames = {
    "container_started", "container_exited", "container_oom",  "container_disappeared",
    "inspect_unhealthy", "probe_failed",     "probe_recovered"};

constexpr std::string_view to_string(EventType t) {
  return kEventTypeNames[static_cast<std::size_t>(t)];
}

constexpr std::optional<EventType> parse_event_type(std::string_view s) {
  for (std::size_t i = 0; i < kEventTypeNames.size(); ++i) {
    if (kEventTypeNames[i] == s) {
      return static_cast<EventType>(i);
    }
  }
  return std::nullopt;
}

struct Event {
  std::string game_id;
  std::string container_id;
  std::int64_t occurred_at_ms = 0;
  Details details;

  EventType type() const { return static_cast<EventType>(details.index()); }
  bool operator==(const Event&) const = default;
};

}  // namespace galaxy::contract
