#include "galaxy/probe/state_machine.hpp"

#include <stdexcept>

namespace galaxy::probe {

ProbeStateMachine::ProbeStateMachine(ProbeThresholds thresholds) : thresholds_(thresholds) {
  if (thresholds_.failure < 1 || thresholds_.success < 1) {
    throw std::invalid_argument("probe failure and success thresholds must be at least 1");
  }
}

std::optional<contract::Details> ProbeStateMachine::observe(const ProbeResult& result) {
  if (result.ok()) {
    if (!failing_) {
      failures_ = 0;  // a success below the failure threshold ends the run silently
      return std::nullopt;
    }
    if (++successes_ < thresholds_.success) {
      return std::nullopt;
    }
    const std::int64_t prior = failures_;
    reset();
    return contract::ProbeRecovered{prior};
  }
  successes_ = 0;
  ++failures_;
  if (!failing_ && failures_ >= thresholds_.failure) {
    failing_ = true;
    return contract::ProbeFailed{failures_, result.status, result.error};
  }
  return std::nullopt;
}

void ProbeStateMachine::reset() {
  failures_ = 0;
  successes_ = 0;
  failing_ = false;
}

}  // namespace galaxy::probe
