#include "galaxy/web/hub.hpp"

#include <algorithm>
#include <cassert>

#include "galaxy/web/state.hpp"

namespace galaxy::web {

EventHub::EventHub(HubSettings settings) : settings_(settings) {
  settings_.ring = std::max<std::size_t>(settings_.ring, 1);
}

void Subscriber::pop_front() {
  queued_bytes -= queue.front()->text.size();
  queue.pop_front();
}

void EventHub::deliver(Subscriber& s, const FramePtr& f) {
  if (s.overflowed) {
    return;
  }
  if (s.queued_bytes + f->text.size() > settings_.max_queue_bytes) {
    // Dropping frames here would leave a gap the browser cannot see; ending the connection makes
    // it resume from the last frame it really got.
    s.overflowed = true;
    s.queue.clear();
    s.queued_bytes = 0;
    ++overflows_;
  } else {
    s.queue.push_back(f);
    s.queued_bytes += f->text.size();
    if (!f->id.empty()) {
      s.last_id = f->id;
    }
  }
  if (s.wake) {
    s.wake();
  }
}

void EventHub::publish(std::vector<Frame> frames) {
  for (auto& frame : frames) {
    // The reader reads after last_id_, so an entry not newer is a reader's bug.
    assert(compare_ids(frame.id, last_id_).value_or(1) > 0);
    auto f = std::make_shared<const Frame>(std::move(frame));
    last_id_ = f->id;
    ring_.push_back(f);
    if (ring_.size() > settings_.ring) {
      ring_.pop_front();
    }
    ++published_;
    for (const auto& s : subscribers_) {
      deliver(*s, f);
    }
  }
}

void EventHub::broadcast(const std::string& text) {
  auto f = std::make_shared<const Frame>(Frame{"", text});
  for (const auto& s : subscribers_) {
    deliver(*s, f);
  }
}

SubscriberPtr EventHub::subscribe_fresh(std::size_t backlog) {
  auto s = std::make_shared<Subscriber>();
  s->last_id = last_id_;
  const std::size_t n = std::min(backlog, ring_.size());
  for (auto it = ring_.end() - static_cast<std::ptrdiff_t>(n); it != ring_.end(); ++it) {
    deliver(*s, *it);
  }
  subscribers_.push_back(s);
  return s;
}

Subscription EventHub::subscribe_after(const std::string& after) {
  assert(ready_ && valid_id(after));
  Subscription sub;
  sub.subscriber = std::make_shared<Subscriber>();
  auto& s = *sub.subscriber;
  s.last_id = after;
  // The ring holds every entry between its front and last_id_ (the reader reads them in order),
  // so a resume at or after the front is served from it alone.
  const bool reaches = !ring_.empty() && compare_ids(after, ring_.front()->id).value_or(-1) >= 0;
  if (!reaches && !ring_.empty()) {
    sub.catch_up = Subscription::CatchUp{after, ring_.front()->id};
  }
  for (const auto& f : ring_) {
    if (compare_ids(f->id, after).value_or(1) > 0) {
      deliver(s, f);
    }
  }
  subscribers_.push_back(sub.subscriber);
  return sub;
}

void EventHub::unsubscribe(const SubscriberPtr& s) {
  std::erase(subscribers_, s);
}

HubStats EventHub::stats() const {
  return HubStats{subscribers_.size(), published_, overflows_};
}

}  // namespace galaxy::web
