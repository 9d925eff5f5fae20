// The notifier against a real unix datagram socket standing in for systemd's.
#include "galaxy/daemon/sd_notify.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

namespace galaxy::daemon {
namespace {

class FakeSystemd {
 public:
  explicit FakeSystemd(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') {
      addr.sun_path[0] = '\0';
    } else {
      std::filesystem::remove(name);
    }
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len), 0);  // NOLINT
  }
  ~FakeSystemd() {
    ::close(fd_);
    if (name_[0] != '@') {
      std::filesystem::remove(name_);
    }
  }
  FakeSystemd(const FakeSystemd&) = delete;
  FakeSystemd& operator=(const FakeSystemd&) = delete;
  // The datagram already sent (the notifier's sendto has returned): no wait.
  std::string received() {
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  std::string name_;
  int fd_ = -1;
};

TEST(SdNotify, SendsEachMessageAsOneDatagramToAPathSocket) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("gx-notify-" + std::to_string(::getpid())))
          .string();
  FakeSystemd systemd(path);
  SystemdNotifier n(path);
  ASSERT_TRUE(n.enabled());
  ASSERT_TRUE(n.notify("READY=1\nSTATUS=watching 3 containers"));
  EXPECT_EQ(systemd.received(), "READY=1\nSTATUS=watching 3 containers");
  ASSERT_TRUE(n.notify("WATCHDOG=1"));
  EXPECT_EQ(systemd.received(), "WATCHDOG=1");
}

TEST(SdNotify, AbstractNamespaceSockets) {
  const std::string name = "@gx-notify-abstract-" + std::to_string(::getpid());
  FakeSystemd systemd(name);
  SystemdNotifier n(name);
  ASSERT_TRUE(n.notify("STOPPING=1"));
  EXPECT_EQ(systemd.received(), "STOPPING=1");
}

TEST(SdNotify, WithoutNotifySocketEverythingIsANoOp) {
  SystemdNotifier n("");
  EXPECT_FALSE(n.enabled());
  EXPECT_TRUE(n.notify("READY=1"));
}

TEST(SdNotify, ABadOrMissingSocketIsAnErrorNamingIt) {
  SystemdNotifier relative("run/notify");
  auto r = relative.notify("READY=1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().path, "NOTIFY_SOCKET");
  SystemdNotifier missing("/nonexistent/gx-notify");
  auto m = missing.notify("READY=1");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind, ErrorKind::io);
  EXPECT_NE(m.error().reason.find("/nonexistent/gx-notify"), std::string::npos);
}

TEST(SdNotify, WatchdogIntervalIsHalfOfWatchdogUsecForThisProcess) {
  using std::chrono::microseconds;
  EXPECT_EQ(watchdog_interval("20000000", nullptr, 42), microseconds(10'000'000));
  EXPECT_EQ(watchdog_interval("20000000", "42", 42), microseconds(10'000'000));
  EXPECT_EQ(watchdog_interval("20000000", "43", 42), std::nullopt) << "meant for another process";
  EXPECT_EQ(watchdog_interval(nullptr, nullptr, 42), std::nullopt);
  EXPECT_EQ(watchdog_interval("0", nullptr, 42), std::nullopt);
  EXPECT_EQ(watchdog_interval("soon", nullptr, 42), std::nullopt);
}

}  // namespace
}  // namespace galaxy::daemon
