// The bounded queue between apply() (the daemon's loop) and the PostgreSQL writer, as plain
// logic: no threads, no I/O, no locks (the sink holds its mutex around every call), so the
// overflow and batching rules are unit-tested directly.
//
// Capacity is counted in events, queued and in flight (taken but not yet committed: they are
// still in memory, so the bound covers them); a transition that carries only state records counts
// as one, so state-only transitions cannot grow the queue without bound either.
//
// Overflow: a transition that does not fit is not partially taken. The queue enters overflow and
// drops every transition until everything accepted before it has been committed (taken and
// done()); then the episode ends and the owner must resync (reload state, resync from Docker),
// because the sources' memory now claims things that were never stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "galaxy/contract/sink.hpp"

namespace galaxy::publish {

// What one PostgreSQL transaction stores: events in emission order, and the state records with
// only the last write per key kept (one statement cannot upsert a key twice).
struct Batch {
  std::uint64_t number = 0;  // 1, 2, ... per queue: the writer's idempotency token
  std::vector<contract::Event> events;
  std::map<std::string, std::optional<std::string>> state;
  std::size_t transitions = 0;
  bool empty() const { return events.empty() && state.empty(); }
};

enum class PushResult { accepted, dropped_overflow_started, dropped };

class TransitionQueue {
 public:
  TransitionQueue(std::size_t capacity, std::size_t max_batch);

  PushResult push(contract::Transition t);
  // Everything queued now, whole transitions, up to max_batch events (a single larger transition
  // is taken alone). nullopt when nothing is queued or a batch is still in flight.
  std::optional<Batch> take();
  // The batch from take() is committed. Returns true when that ended an overflow episode.
  bool done();

  bool overflowed() const { return overflowed_; }
  bool in_flight() const { return in_flight_; }
  // Events (units) in memory: queued and in flight.
  std::size_t queued_units() const { return units_; }
  std::size_t queued_transitions() const { return queue_.size(); }
  // Drops everything queued and forgets the batch in flight (at a stop, after the writer has
  // exited); returns the queued events dropped.
  std::size_t clear();

 private:
  static std::size_t units(const contract::Transition& t) {
    return t.events.empty() ? 1 : t.events.size();
  }

  std::size_t capacity_;
  std::size_t max_batch_;
  std::deque<contract::Transition> queue_;
  std::size_t units_ = 0;
  bool overflowed_ = false;
  bool in_flight_ = false;
  std::size_t in_flight_units_ = 0;
  std::uint64_t next_batch_ = 1;
};

}  // namespace galaxy::publish
