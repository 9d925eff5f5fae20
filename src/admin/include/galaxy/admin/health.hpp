// Health endpoints in kube-apiserver's form, which operators' probes and dashboards already read:
// "ok" when every check passes, and with ?verbose (or on any failure) one line per check,
// "[+]name ok" or "[-]name failed: reason", then "<endpoint> check passed|failed".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace galaxy::admin {

struct Check {
  std::string name;
  bool ok = false;
  std::string reason;  // why it failed; safe to show (no secrets)
};

struct HealthReport {
  unsigned status = 200;  // 200, or 503 when a check failed
  std::string body;
};

// `endpoint` is "livez" or "readyz". Pure, thread-safe.
HealthReport render_health(std::string_view endpoint, const std::vector<Check>& checks,
                           bool verbose);

}  // namespace galaxy::admin
