// The seam between the sources and publishing. Sources call emit() on the daemon's one event
// loop; an implementation must not block it (queue, then write elsewhere).
#pragma once

#include "galaxy/contract/event.hpp"

namespace galaxy::contract {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Takes one validated event, in emission order. Never blocks; never throws.
  virtual void emit(const Event& event) = 0;
};

}  // namespace galaxy::contract
