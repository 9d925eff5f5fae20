#include "galaxy/admin/health.hpp"

#include <algorithm>

namespace galaxy::admin {

HealthReport render_health(std::string_view endpoint, const std::vector<Check>& checks,
                           bool verbose) {
  const bool ok = std::all_of(checks.begin(), checks.end(), [](const Check& c) { return c.ok; });
  HealthReport r;
  r.status = ok ? 200 : 503;
  if (ok && !verbose) {
    r.body = "ok\n";
    return r;
  }
  for (const auto& c : checks) {
    if (c.ok) {
      r.body += "[+]" + c.name + " ok\n";
    } else {
      r.body += "[-]" + c.name + " failed: " + (c.reason.empty() ? "not ready" : c.reason) + "\n";
    }
  }
  r.body += std::string(endpoint) + (ok ? " check passed\n" : " check failed\n");
  return r;
}

}  // namespace galaxy::admin
