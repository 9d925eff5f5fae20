// The runtime manager as an object: it owns the io_context and every component (Docker client,
// watcher, prober, sink, state store, the state-dir lock), wires them in one place, and runs until
// SIGTERM/SIGINT or a fatal error. app/runtime-manager only maps flags to DaemonSettings and calls
// run(). Not thread-safe: construct and run on one thread.
#pragma once

#include <memory>

#include "galaxy/daemon/settings.hpp"

namespace galaxy::daemon {

class Daemon {
 public:
  // Takes the state-dir lock (one daemon per --state-dir) and builds the components; throws
  // std::runtime_error when the lock is held or a setting is refused by a component.
  explicit Daemon(DaemonSettings settings);
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon();

  // Loads the sources' memory (retried with backoff while the store is unreachable), starts the
  // sink and the watcher, and runs the loop. On SIGTERM/SIGINT the prober and watcher are
  // cancelled and the sink drained, all within shutdown_timeout. Returns the exit code: 0 after a
  // clean stop, 1 when the watcher failed or the shutdown deadline passed.
  int run();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace galaxy::daemon
