#include "galaxy/probe/types.hpp"

namespace galaxy::probe {

ProbeOutcome classify(const ProbeResult& r) {
  if (r.ok()) {
    return ProbeOutcome::ok;
  }
  if (r.status != 0) {
    return ProbeOutcome::http_error;
  }
  if (r.timed_out) {
    return ProbeOutcome::timeout;
  }
  // The session's text for ECONNREFUSED (describe() in session.cpp).
  if (r.error == "connection refused") {
    return ProbeOutcome::refused;
  }
  return ProbeOutcome::error;
}

std::string_view to_string(ProbeOutcome o) {
  switch (o) {
    case ProbeOutcome::ok:
      return "ok";
    case ProbeOutcome::http_error:
      return "http_error";
    case ProbeOutcome::timeout:
      return "timeout";
    case ProbeOutcome::refused:
      return "refused";
    case ProbeOutcome::error:
      return "error";
  }
  return "error";
}

}  // namespace galaxy::probe
