// galaxy-health engines run|ls|show|stop|restart|rm: game engines run by the daemon, through its
// engines API (see api_client.hpp). The requests are built, and the records rendered, by pure
// functions here, so tests check both without a daemon; engines() is the one call that talks.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "galaxy/cli/api_client.hpp"
#include "galaxy/cli/output.hpp"
#include "galaxy/common/result.hpp"

namespace galaxy::cli {

// "64m", "1g", "512k" or a plain number of bytes, 1024-based (k = KiB, m = MiB, g = GiB; either
// case), more than 0 and at most INT64_MAX bytes. Errors say what was wrong with the text. Pure.
Result<std::int64_t> parse_size(std::string_view text);

// "KEY=VALUE", split at the first '=' (the value may hold more, or be empty); the key must not
// be empty. Errors name `flag` ("--env"). Pure.
Result<std::pair<std::string, std::string>> parse_key_value(std::string_view text,
                                                            std::string_view flag);

struct HealthzSpec {
  int port = 0;
  std::string path = "/healthz";
};

// What `engines run` asks for: the body of POST /v1/engines. Optional parts are sent only when
// set, so the daemon's defaults apply to the rest.
struct EngineSpec {
  std::string game_id;
  std::string image;
  std::vector<std::string> cmd;                             // empty: the image's own
  std::vector<std::pair<std::string, std::string>> env;     // keys unique
  std::vector<std::pair<std::string, std::string>> labels;  // keys unique
  std::optional<HealthzSpec> healthz;
  std::optional<std::int64_t> memory_bytes;
  std::optional<double> cpus;
  std::optional<std::string> network;
};

// The JSON of POST /v1/engines for `spec`: game_id and image always; cmd, env, labels only when
// not empty; healthz, memory_bytes, cpus, network only when set. Pure.
boost::json::object engine_spec_json(const EngineSpec& spec);

// The requests of the engines API, with game IDs percent-encoded as one path segment. Pure.
ApiRequest run_request(const EngineSpec& spec);
ApiRequest list_request();
ApiRequest show_request(std::string_view game_id);
// timeout_s: how long the daemon lets the engine stop before killing it; nullopt: no body, the
// daemon's default.
ApiRequest stop_request(std::string_view game_id, std::optional<std::int64_t> timeout_s);
ApiRequest restart_request(std::string_view game_id);
ApiRequest remove_request(std::string_view game_id);

// Records as the API sends them. table: GAME, INCARNATION, CONTAINER (12 characters), STATE,
// DESIRED, DOCKER STATUS, ACTION BY, UPDATED; wide adds IMAGE, HOST, CONTAINER ID (full),
// ACTION and ERROR. DOCKER STATUS is Docker's status, "exited (N)" with the exit code, " oom"
// after it when the kernel killed it for memory, "missing" when the container is gone, "-" when
// the daemon has not seen one. A missing, empty or null value shows as "-". json: one JSON array
// of the records on one line ("[]" when none). Pure.
std::string render_engines(const std::vector<boost::json::object>& records,
                           const OutputOptions& output);

// One record, as render_engines' table or wide; json: the record as one JSON object on a line.
std::string render_engine(const boost::json::object& record, const OutputOptions& output);

// "galaxy-health: <code>: <message>" and " (field <field>)" when the error names one, then '\n'.
// Pure.
std::string render_api_error(const ApiError& error);

struct EnginesConnection {
  std::string api_url{kDefaultApiUrl};
  std::string token_file;  // empty: no Authorization header
  ApiTimeouts timeouts;
};

enum class EnginesCall : std::uint8_t { one, list };

// Sends `request` and prints what came back: a record (one), or the records of {"engines": [...]}
// (list), in `output`'s format on `out`. Exit 1 after an API error (render_api_error on `err`), an
// address that cannot be reached (which address, and why), a deadline passed, or an answer that
// is not what the API promises; 2 when --api or the token file is unusable; else 0.
int engines(const EnginesConnection& conn, const ApiRequest& request, EnginesCall call,
            const OutputOptions& output, std::ostream& out, std::ostream& err);

}  // namespace galaxy::cli
