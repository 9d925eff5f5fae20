#include "galaxy/probe/schedule.hpp"

#include <algorithm>
#include <boost/assert.hpp>

namespace galaxy::probe {

namespace {
bool later(const auto& a, const auto& b) {
  return a.due > b.due;
}
}  // namespace

ProbeSchedule::ProbeSchedule(std::uint64_t seed) : rng_(seed) {}

ProbeSchedule::time_point ProbeSchedule::add(std::uint32_t id, time_point now, duration grace,
                                             duration interval) {
  BOOST_ASSERT(interval > duration::zero());
  std::uniform_int_distribution<duration::rep> offset(0, interval.count() - 1);
  const time_point first = now + grace + duration(offset(rng_));
  add_at(id, first, interval);
  return first;
}

void ProbeSchedule::add_at(std::uint32_t id, time_point first_due, duration interval) {
  BOOST_ASSERT(interval > duration::zero());
  if (id >= timelines_.size()) {
    timelines_.resize(std::size_t{id} + 1);
  }
  Timeline& t = timelines_[id];
  ++t.generation;
  t.active = true;
  t.next = first_due;
  t.interval = interval;
  push(Entry{first_due, id, t.generation});
}

void ProbeSchedule::remove(std::uint32_t id) {
  if (contains(id)) {
    timelines_[id].active = false;
    ++timelines_[id].generation;
  }
}

bool ProbeSchedule::contains(std::uint32_t id) const {
  return id < timelines_.size() && timelines_[id].active;
}

std::optional<ProbeSchedule::time_point> ProbeSchedule::next_due() {
  drop_stale();
  if (heap_.empty()) {
    return std::nullopt;
  }
  return heap_.front().due;
}

ProbeSchedule::time_point ProbeSchedule::batch_wake(time_point due, duration window) {
  BOOST_ASSERT(window >= duration::zero());
  if (window == duration::zero()) {
    return due;
  }
  const duration past = due.time_since_epoch() % window;
  // A steady clock's epoch is typically boot, so time points are positive and `past` is not
  // negative; a negative remainder still rounds up.
  if (past > duration::zero()) {
    return due + (window - past);
  }
  return due - past;
}

void ProbeSchedule::push(Entry e) {
  // Re-added and removed timelines leave stale entries until their due time; when they pile up
  // (churn with long grace periods) rebuild from the live timelines so the heap stays O(targets).
  if (heap_.size() >= 64 && heap_.size() > 2 * timelines_.size()) {
    heap_.clear();
    for (std::uint32_t id = 0; id < timelines_.size(); ++id) {
      const Timeline& t = timelines_[id];
      if (t.active && id != e.id) {
        heap_.push_back(Entry{t.next, id, t.generation});
      }
    }
    std::make_heap(heap_.begin(), heap_.end(), later<Entry, Entry>);
  }
  heap_.push_back(e);
  std::push_heap(heap_.begin(), heap_.end(), later<Entry, Entry>);
}

ProbeSchedule::Entry ProbeSchedule::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), later<Entry, Entry>);
  const Entry e = heap_.back();
  heap_.pop_back();
  return e;
}

void ProbeSchedule::drop_stale() {
  while (!heap_.empty()) {
    const Entry& top = heap_.front();
    const Timeline& t = timelines_[top.id];
    if (t.active && t.generation == top.generation) {
      return;
    }
    pop();
  }
}

}  // namespace galaxy::probe
