// The value types every part of the prober shares: how to probe, and what one probe found.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

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
  bool timed_out = false;  // the deadline passed before a response head (error says where)

  // docs/emission-rules.md: 200-399 is a success; a redirect is never followed, its status counts.
  bool ok() const { return status >= 200 && status <= 399; }
};

// What a probe came to, in a few kinds an operator can alert on (a metrics label: the set is
// closed so its cardinality is fixed).
enum class ProbeOutcome : std::uint8_t { ok, http_error, timeout, refused, error };
inline constexpr std::size_t kProbeOutcomes = 5;
ProbeOutcome classify(const ProbeResult& r);
std::string_view to_string(ProbeOutcome o);

// Upper bounds, in seconds, of the probe duration histogram: from a local bridge's fractions of a
// millisecond up to the default timeout (1 s) and the largest timeouts operators set.
inline constexpr std::array<double, 12> kProbeDurationBounds{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

}  // namespace galaxy::probe
