// Stopping a command-line program cleanly on Ctrl-C or SIGTERM: a stop request that the running
// work subscribes to, and the watcher that raises it from the signals.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

namespace galaxy {

// A stop request shared between a signal watcher and a running command. Thread-safe.
class StopSignal {
 public:
  void request();
  bool requested() const { return requested_.load(std::memory_order_acquire); }
  // fn runs once: at the request, or now if it was already requested. Replaces an earlier fn.
  void on_request(std::function<void()> fn);

 private:
  std::atomic<bool> requested_{false};
  std::mutex mutex_;
  std::function<void()> fn_;
};

// Turns SIGINT/SIGTERM into stop.request() on a thread of its own (so stop handling may lock and
// notify, which a signal handler may not); a second signal exits the process at once with 130.
// Construct it in main() before any other thread starts: it blocks those signals process-wide.
class SignalWatcher {
 public:
  explicit SignalWatcher(StopSignal& stop);
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;
  ~SignalWatcher();

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace galaxy
