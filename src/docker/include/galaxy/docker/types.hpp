// Values read from the Docker Engine API, reduced to what Runtime Manager uses. Produced by the
// pure parsers in parse.hpp and handed across the DockerApi seam (api.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "galaxy/common/result.hpp"

namespace galaxy::docker {

// One line of GET /events.
struct DockerEvent {
  std::string type;      // "container"
  std::string action;    // "start", "die", "oom", "destroy", "health_status: unhealthy", ...
  std::string actor_id;  // Actor.ID (the container id for container events)
  std::map<std::string, std::string> attributes;  // Actor.Attributes: image, name, exitCode, labels
  std::int64_t time = 0;                          // seconds since the epoch
  std::int64_t time_nano = 0;  // nanoseconds since the epoch; the resume point for `since`
  bool operator==(const DockerEvent&) const = default;
};

// GET /containers/{id}/json.
struct ContainerInspect {
  std::string id;
  std::string name;   // without Docker's leading '/', as events spell it in Attributes.name
  std::string image;  // Config.Image, as the container was created with
  std::map<std::string, std::string> labels;  // Config.Labels
  std::string status;                         // State.Status: created, running, exited, ...
  bool running = false;
  std::int64_t exit_code = 0;
  bool oom_killed = false;
  // Epoch milliseconds; nullopt where Docker says "0001-01-01T00:00:00Z" (never happened).
  std::optional<std::int64_t> started_at_ms;
  std::optional<std::int64_t> finished_at_ms;
  std::string health;  // State.Health.Status; "" when the image has no HEALTHCHECK
  std::int64_t restart_count = 0;
  std::map<std::string, std::string> networks;  // network name -> IPAddress ("" when none)
  std::string network_mode;                     // HostConfig.NetworkMode
  bool operator==(const ContainerInspect&) const = default;
};

// One entry of GET /containers/json.
struct ContainerSummary {
  std::string id;
  std::map<std::string, std::string> labels;
  std::string state;  // created, running, exited, ...
  std::string image;
  bool operator==(const ContainerSummary&) const = default;
};

// What GET /info tells about the daemon itself. ID is Docker's own ("format not stable"): it is
// recorded beside our host id, never used as one.
struct DockerInfo {
  std::string id;
  std::string name;  // the daemon host's hostname
  std::string server_version;
  bool operator==(const DockerInfo&) const = default;
};

// Docker answered 404 for the container: it does not exist (any more).
struct NotFound {
  bool operator==(const NotFound&) const = default;
};

// inspect(): found, gone, or could not tell (transport, deadline, 5xx, unparsable body).
using InspectOutcome = std::variant<ContainerInspect, NotFound, Error>;

// GET /events: the stream is always filtered to one object type and, if given, to labels.
struct EventsQuery {
  std::string type = "container";
  std::vector<std::string> labels;  // each "key" or "key=value"; Docker ANDs them
  // Replay from this instant (inclusive, Docker keeps the last 256 events); nullopt = from now.
  std::optional<std::int64_t> since_nano;
  // Stop at this instant (inclusive, on dockerd's clock): Docker sends what it has up to it and
  // ends the stream, at once when it is past. nullopt = never ends.
  std::optional<std::int64_t> until_nano;
};

// What create_container sends: only these fields ever reach Docker, so no mounts, privileged mode,
// capabilities or host PID/IPC/network namespaces are expressible (the client also refuses
// network "host" and "container:...").
struct ContainerCreate {
  std::string name;  // "" lets Docker choose
  std::string image;
  std::vector<std::string> cmd;  // empty: the image's own
  std::vector<std::string> env;  // "K=V"
  std::map<std::string, std::string> labels;
  // 0: no limit (HostConfig.Memory; MemorySwap set equal, so no swap beyond it).
  std::int64_t memory_bytes = 0;
  std::int64_t nano_cpus = 0;  // 0: no limit (HostConfig.NanoCpus)
  std::string network;         // "": Docker's default bridge (HostConfig.NetworkMode)
  bool operator==(const ContainerCreate&) const = default;
};

// Docker Engine API version, "1.41".
struct ApiVersion {
  int major = 1;
  int minor = 0;
  auto operator<=>(const ApiVersion&) const = default;  // NOLINT(modernize-use-nullptr)
  std::string to_string() const { return std::to_string(major) + "." + std::to_string(minor); }
};

inline constexpr ApiVersion kClientApiVersion{1, 43};   // the newest we speak
inline constexpr ApiVersion kMinimumApiVersion{1, 41};  // dockerd 20.10

}  // namespace galaxy::docker
