// One reader of the stream for every open page: the entries it reads go into a ring (the recent
// past, for a page's backlog and for resumes) and into each subscriber's queue.
//
// Bounded: a subscriber's queue holds at most max_queue_bytes; one that falls behind (a slow or
// stalled browser) is marked overflowed, gets nothing more and is to be closed by its connection.
// Its EventSource reconnects with Last-Event-ID and resumes without a gap, so nothing is lost and
// the server never buffers without limit.
//
// Not thread-safe: every call on the server's loop. The stream reader's thread posts publish().
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace galaxy::web {

struct Frame {
  std::string id;    // the stream entry id; "" for a frame without one (status)
  std::string text;  // the whole SSE frame, blank line included
};
using FramePtr = std::shared_ptr<const Frame>;

struct HubSettings {
  std::size_t ring = 1000;  // entries kept for backlogs and resumes; at least 1
  std::size_t max_queue_bytes = std::size_t{1} << 20;  // per subscriber
};

class Subscriber {
 public:
  // Frames to write, oldest first; the connection pops what it wrote.
  std::deque<FramePtr> queue;
  std::size_t queued_bytes = 0;
  bool overflowed = false;
  // The id of the newest entry queued (or, before any, the one the subscriber resumes after).
  std::string last_id;
  // Called when frames were queued or the subscriber overflowed.
  std::function<void()> wake;

  void pop_front();
};
using SubscriberPtr = std::shared_ptr<Subscriber>;

struct Subscription {
  SubscriberPtr subscriber;
  // Set when the resume point is older than the ring: the entries after `after` and before
  // `before` (both exclusive) must be read from Redis and written before subscriber->queue.
  struct CatchUp {
    std::string after;
    std::string before;
  };
  std::optional<CatchUp> catch_up;
};

struct HubStats {
  std::size_t subscribers = 0;
  std::uint64_t published = 0;
  std::uint64_t overflows = 0;
};

class EventHub {
 public:
  explicit EventHub(HubSettings settings);

  // Entries read from the stream, oldest first; each must be newer than the last one published.
  // The first call after a (re)start of the reader may hold the recent past (the ring's fill).
  void publish(std::vector<Frame> frames);
  // A frame without an id for every subscriber (the reader's Redis status).
  void broadcast(const std::string& text);

  // A fresh subscriber: the last `backlog` entries of the ring, then everything published.
  SubscriberPtr subscribe_fresh(std::size_t backlog);
  // A resume after entry `after` (a valid id): the ring's entries after it, then everything
  // published; with a catch-up when the ring does not reach back to it. `ready()` must be true.
  Subscription subscribe_after(const std::string& after);
  void unsubscribe(const SubscriberPtr& s);

  // False until the reader has published its first batch (the ring's fill): before that a resume
  // cannot tell what the ring misses.
  bool ready() const { return ready_; }
  void set_ready() { ready_ = true; }
  // The newest entry id published, "0-0" before any.
  const std::string& last_id() const { return last_id_; }
  HubStats stats() const;

 private:
  void deliver(Subscriber& s, const FramePtr& f);

  HubSettings settings_;
  std::deque<FramePtr> ring_;
  std::string last_id_ = "0-0";
  std::vector<SubscriberPtr> subscribers_;
  bool ready_ = false;
  std::uint64_t published_ = 0;
  std::uint64_t overflows_ = 0;
};

}  // namespace galaxy::web
