#include "galaxy/daemon/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

namespace galaxy::daemon {

SystemdNotifier::SystemdNotifier(std::string socket) : socket_(std::move(socket)) {}

SystemdNotifier::~SystemdNotifier() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Result<void> SystemdNotifier::notify(std::string_view state) {
  if (!enabled()) {
    return {};
  }
  const auto fail = [&](const std::string& what) {
    return make_error(ErrorKind::io, "sd_notify",
                      what + " " + socket_ + ": " + std::generic_category().message(errno));
  };
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof(addr.sun_path) || (socket_[0] != '/' && socket_[0] != '@')) {
    return make_error(ErrorKind::invalid, "NOTIFY_SOCKET",
                      "must be an absolute path or @abstract-name shorter than 108 bytes");
  }
  std::memcpy(addr.sun_path, socket_.data(), socket_.size());
  if (socket_[0] == '@') {
    addr.sun_path[0] = '\0';  // the abstract namespace
  }
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  if (fd_ < 0) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) {
      return fail("socket for");
    }
  }
  const ssize_t n = ::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&addr), len);  // NOLINT
  if (n < 0 || static_cast<std::size_t>(n) != state.size()) {
    return fail("sendto");
  }
  return {};
}

std::optional<std::chrono::microseconds> watchdog_interval(const char* watchdog_usec,
                                                           const char* watchdog_pid, pid_t self) {
  if (watchdog_usec == nullptr) {
    return std::nullopt;
  }
  const auto parse = [](std::string_view s, long long& v) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size();
  };
  long long usec = 0;
  if (!parse(watchdog_usec, usec) || usec <= 0) {
    return std::nullopt;
  }
  if (watchdog_pid != nullptr && *watchdog_pid != '\0') {
    long long pid = 0;
    if (!parse(watchdog_pid, pid) || pid != self) {
      return std::nullopt;
    }
  }
  return std::chrono::microseconds(usec / 2);
}

}  // namespace galaxy::daemon
