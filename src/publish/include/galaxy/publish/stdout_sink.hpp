// The debugging sink of `runtime-manager serve --sink stdout`: each event as one canonical payload
// JSON line on a file descriptor (stdout by default).
//
// emit() never blocks the caller's loop: lines go through a bounded queue to a writer thread
// (a pipe to a slow reader, or a regular file that epoll cannot watch, must not stall the
// sources). When the queue is full the event is dropped, counted and logged — this sink is for
// people, not a durable path. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "galaxy/contract/sink.hpp"

namespace galaxy::publish {

struct StdoutSinkSettings {
  int fd = 1;
  std::size_t queue_capacity = 65536;  // lines
};

class StdoutSink final : public contract::EventSink, public contract::TransitionSink {
 public:
  explicit StdoutSink(StdoutSinkSettings settings = {});
  ~StdoutSink() override;
  StdoutSink(const StdoutSink&) = delete;
  StdoutSink& operator=(const StdoutSink&) = delete;

  void emit(const contract::Event& event) override;
  // Writes the events; the state records are not this sink's business (the daemon keeps them in
  // its state file in stdout mode).
  void apply(contract::Transition transition) override;

  // Writes what is queued, for at most `deadline`, then stops the writer. Idempotent.
  void stop(std::chrono::milliseconds deadline);

  std::uint64_t written() const { return written_.load(); }
  std::uint64_t dropped() const { return dropped_.load(); }

 private:
  void run();

  StdoutSinkSettings settings_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::thread writer_;
};

}  // namespace galaxy::publish
