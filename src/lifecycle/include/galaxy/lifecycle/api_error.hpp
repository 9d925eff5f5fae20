// The one error shape of the lifecycle API, shared by the spec parser, the server and the engine
// manager's handlers: {"error": {"code", "message", "field"}} with an HTTP status, so a client
// branches on `code` and points its user at `field` without reading prose.
#pragma once

#include <string>

namespace galaxy::lifecycle {

struct ApiError {
  unsigned status = 400;
  std::string code;     // stable, snake_case: "unknown_field", "unauthorized", ...
  std::string message;  // for people; never contains a secret
  std::string field;    // JSON pointer into the request body ("/healthz/port"), or ""
  bool operator==(const ApiError&) const = default;
};

// {"error":{"code":...,"message":...,"field":...}}
std::string error_json(const ApiError& e);

}  // namespace galaxy::lifecycle
