// systemd's readiness and watchdog protocol (sd_notify(3)): one datagram per message, "KEY=value"
// lines, to the unix socket named by NOTIFY_SOCKET (a path, or "@name" in the abstract
// namespace). Written here rather than linking libsystemd: the protocol is a documented datagram
// and the daemon sends four kinds of message (READY=1, STATUS=, WATCHDOG=1, STOPPING=1).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "galaxy/common/result.hpp"

namespace galaxy::daemon {

class SystemdNotifier {
 public:
  // `socket` is NOTIFY_SOCKET's value; "" (not run by systemd with Type=notify) makes every call
  // a no-op that succeeds.
  explicit SystemdNotifier(std::string socket);
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;
  ~SystemdNotifier();

  bool enabled() const { return !socket_.empty(); }
  // Sends `state` (e.g. "READY=1\nSTATUS=watching 3 containers") as one datagram; never blocks.
  // Error{io, "sd_notify", ...} names the socket when the send fails.
  Result<void> notify(std::string_view state);

 private:
  std::string socket_;
  int fd_ = -1;
};

// How often to send WATCHDOG=1: half of WATCHDOG_USEC (as sd_watchdog_enabled(3) advises), when
// it is set, positive, and meant for this process (WATCHDOG_PID unset or equal to `self`).
std::optional<std::chrono::microseconds> watchdog_interval(const char* watchdog_usec,
                                                           const char* watchdog_pid, pid_t self);

}  // namespace galaxy::daemon
