// The value types every part of the prober shares: how to probe, and what one probe found.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace galaxy::probe {

struct ProbeSettings {
  // Covers connect, sending the request and receiving the whole response head.
  std::chrono::milliseconds timeout{1000};
  // Off: one connection per probe with "Connection: close". On: the connection is kept between
  // probes of a target when the server allows it.
  bool keep_alive = false;
  std::size_t max_head_bytes = 8192;  // status line + header fields, all interim 1xx heads included
  std::size_t max_body_bytes = 4096;  // read at most this much after the head, then stop
  std::string user_agent = "galaxy-runtime-manager/0.1";
};

struct ProbeResult {
  int status = 0;                        // the HTTP status; 0 when no HTTP response was received
  std::string error;                     // why there is no HTTP response; "" when there is one
  std::chrono::microseconds latency{0};  // start to complete response head (or to the failure)
  std::size_t bytes_received = 0;
  bool reused_connection = false;

  // docs/emission-rules.md: 200-399 is a success; a redirect is never followed, its status counts.
  bool ok() const { return status >= 200 && status <= 399; }
};

}  // namespace galaxy::probe
