#include "galaxy/common/stop_signal.hpp"

#include <pthread.h>
#include <unistd.h>

#include <csignal>

namespace galaxy {

void StopSignal::request() {
  std::function<void()> fn;
  {
    const std::lock_guard lock(mutex_);
    if (requested_.exchange(true)) {
      return;
    }
    fn = fn_;
  }
  if (fn) {
    fn();
  }
}

void StopSignal::on_request(std::function<void()> fn) {
  std::function<void()> now;
  {
    const std::lock_guard lock(mutex_);
    fn_ = std::move(fn);
    if (!requested_.load()) {
      return;
    }
    now = fn_;
  }
  if (now) {
    now();
  }
}

namespace {

sigset_t watched_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  // Only used to wake the watcher when it is destroyed.
  sigaddset(&set, SIGUSR1);
  return set;
}

}  // namespace

SignalWatcher::SignalWatcher(StopSignal& stop) {
  const sigset_t set = watched_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this, &stop, set] {
    int signals = 0;
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0 || done_.load()) {
        return;
      }
      if (sig == SIGUSR1) {
        continue;
      }
      if (++signals > 1) {
        ::_exit(130);
      }
      stop.request();
    }
  });
}

SignalWatcher::~SignalWatcher() {
  done_.store(true);
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
}

}  // namespace galaxy
