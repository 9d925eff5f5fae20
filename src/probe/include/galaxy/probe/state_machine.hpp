// The failure/recovery state machine that turns a series of probe results into probe_failed and
// probe_recovered (docs/emission-rules.md, Source 3).
#pragma once

#include <cstdint>
#include <optional>

#include "galaxy/contract/event.hpp"
#include "galaxy/probe/types.hpp"

namespace galaxy::probe {

struct ProbeThresholds {
  int failure = 3;  // consecutive failures that open an episode (probe_failed)
  int success = 1;  // consecutive successes that close it (probe_recovered)
};

// docs/emission-rules.md Source 3 as a pure state machine, one per target.
//
// With success > 1, a success inside an episode that does not reach the threshold does not break
// the failure run: prior_failure_count counts every failure since the episode's run began.
class ProbeStateMachine {
 public:
  // Throws std::invalid_argument for a threshold below 1 (configuration).
  explicit ProbeStateMachine(ProbeThresholds thresholds = {});

  // The event this result causes, if any.
  std::optional<contract::Details> observe(const ProbeResult& result);
  // A new start of the container: a fresh run; an open episode ends silently.
  void reset();

  bool failing() const { return failing_; }
  std::int64_t consecutive_failures() const { return failures_; }

 private:
  ProbeThresholds thresholds_;
  std::int64_t failures_ = 0;
  std::int64_t successes_ = 0;
  bool failing_ = false;
};

}  // namespace galaxy::probe
