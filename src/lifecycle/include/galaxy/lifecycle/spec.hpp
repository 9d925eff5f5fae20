// The engine spec: what a client of the lifecycle API may ask Runtime Manager to run
// (POST /v1/engines). It is a closed object on purpose: the daemon holds the Docker socket, so
// every knob a spec can turn is one an API token can turn, and anything that would give a game
// engine the host (mounts, privileged mode, capabilities, host PID/IPC/network) is simply not a
// field. An unknown field is an error, never ignored, so a client that thinks it asked for
// something learns that it did not.
//
// Rules (parse_engine_spec; each has a unit test, accepted and refused):
//   body          a JSON object (400 malformed_json otherwise, also for invalid UTF-8, a
//                 duplicate key or nesting deeper than 16); every other failure is a 422
//   game_id       required; 1..128 characters of [A-Za-z0-9._:-]
//   image         required; 1..255 characters of [A-Za-z0-9._/:@-] (a Docker reference); when
//                 image prefixes are configured (--engine-image-prefix) it must start with one
//                 of them, byte for byte (422 image_not_allowed, the message lists them)
//   cmd           array of at most 256 strings, each at most 4096 bytes without NUL; [] or
//                 absent runs the image's own command
//   env           object of at most 256 string values without NUL, keys [A-Za-z_][A-Za-z0-9_]*
//   labels        object of at most 256 string values; keys non-empty, not starting "galaxy."
//                 (the daemon's own labels: game id, host id, healthz); no NUL in either
//   healthz       object {port, path}, both optional (8080, "/healthz"): port an integer
//                 1..65535, path starting "/", at most 1024 bytes, no space or control character
//   memory_bytes  integer from 6 MiB (Docker's minimum) to 1 TiB
//   cpus          number from 0.01 (Docker's minimum: 10^7 NanoCPUs; less would round to 0,
//                 which Docker reads as "no limit") to 1024
//   network       1..255 characters, [A-Za-z0-9][A-Za-z0-9_.-]*; not "host" in any case (it
//                 would share the host's network namespace; "container:ID" cannot match the
//                 pattern); "none" and "bridge" are fine
// Optional fields are omitted to leave them unset; null is a wrong type, not "unset".
// Checked in this order, the first failure wins: unknown top-level fields (in input order), then
// the fields in the order above (a missing required one where it stands), inside healthz its
// unknown fields first. Error fields are JSON pointers: "/healthz/host", "/cmd/3", "/env/1X".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "galaxy/lifecycle/api_error.hpp"

namespace galaxy::lifecycle {

struct HealthzSpec {
  std::uint16_t port = 8080;
  std::string path = "/healthz";
  bool operator==(const HealthzSpec&) const = default;
};

struct EngineSpec {
  std::string game_id;
  std::string image;
  std::vector<std::string> cmd;  // empty: the image's own
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> labels;
  std::optional<HealthzSpec> healthz;
  std::optional<std::int64_t> memory_bytes;
  std::optional<double> cpus;
  std::optional<std::string> network;
  bool operator==(const EngineSpec&) const = default;
};

// The request body to a spec, or the first rule it breaks (see above). `image_prefixes` empty:
// any image.
std::variant<EngineSpec, ApiError> parse_engine_spec(
    std::string_view body, const std::vector<std::string>& image_prefixes);

// Canonical JSON: compact, keys sorted, healthz with both members, optionals only when set and
// cmd/env/labels only when non-empty. Two specs that mean the same are the same string, which is
// what the records store and compare for idempotency.
std::string spec_json(const EngineSpec& spec);

// Reads spec_json's output back (from a record). The same rules without the image prefix check:
// a record written under other prefixes still says what runs.
std::variant<EngineSpec, ApiError> spec_from_json(std::string_view canonical);

}  // namespace galaxy::lifecycle
