// The seam between the sources and publishing. Sources call emit() on the daemon's one event
// loop; an implementation must not block it (queue, then write elsewhere).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "galaxy/contract/event.hpp"

namespace galaxy::contract {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Takes one validated event, in emission order. Never blocks; never throws.
  virtual void emit(const Event& event) = 0;
};

// A piece of the sources' durable memory (the events cursor, what was reported per container),
// as JSON text under a key; no value means the key is deleted.
struct StateRecord {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const StateRecord&) const = default;
};

// What one observation changed: the events it emitted and the memory that says they were emitted.
// A durable sink stores both atomically, so after a crash the memory never claims an event that
// was not stored, nor misses one that was (the events cursor resumes exactly after it).
struct Transition {
  std::vector<Event> events;
  std::vector<StateRecord> state;
  bool empty() const { return events.empty() && state.empty(); }
};

class TransitionSink {
 public:
  virtual ~TransitionSink() = default;
  // In order; never blocks; never throws.
  virtual void apply(Transition transition) = 0;
};

}  // namespace galaxy::contract
