#include "galaxy/publish/transition_queue.hpp"

#include <cassert>

namespace galaxy::publish {

TransitionQueue::TransitionQueue(std::size_t capacity, std::size_t max_batch)
    : capacity_(capacity), max_batch_(max_batch == 0 ? 1 : max_batch) {}

PushResult TransitionQueue::push(contract::Transition t) {
  if (t.empty()) {
    return PushResult::accepted;
  }
  if (overflowed_) {
    return PushResult::dropped;
  }
  const std::size_t n = units(t);
  if (units_ + n > capacity_) {
    overflowed_ = true;
    return PushResult::dropped_overflow_started;
  }
  units_ += n;
  queue_.push_back(std::move(t));
  return PushResult::accepted;
}

std::optional<Batch> TransitionQueue::take() {
  if (in_flight_ || queue_.empty()) {
    return std::nullopt;
  }
  Batch b;
  b.number = next_batch_++;
  std::size_t taken = 0;
  while (!queue_.empty()) {
    auto& t = queue_.front();
    const std::size_t n = units(t);
    if (taken > 0 && taken + n > max_batch_) {
      break;
    }
    taken += n;
    for (auto& e : t.events) {
      b.events.push_back(std::move(e));
    }
    for (auto& r : t.state) {
      b.state.insert_or_assign(std::move(r.key), std::move(r.value));
    }
    ++b.transitions;
    queue_.pop_front();
  }
  in_flight_ = true;
  in_flight_units_ = taken;
  return b;
}

bool TransitionQueue::done() {
  assert(in_flight_);
  in_flight_ = false;
  units_ -= in_flight_units_;
  in_flight_units_ = 0;
  if (overflowed_ && queue_.empty()) {
    overflowed_ = false;
    return true;
  }
  return false;
}

std::size_t TransitionQueue::clear() {
  std::size_t events = 0;
  for (const auto& t : queue_) {
    events += t.events.size();
  }
  queue_.clear();
  units_ = 0;
  in_flight_ = false;
  in_flight_units_ = 0;
  return events;
}

}  // namespace galaxy::publish
