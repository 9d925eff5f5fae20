// Redis restarts under a running consumer. Uses a private redis-server (AOF, fsync always) on a
// free port, never the shared dev one.
#include <gtest/gtest.h>

#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>

#include "galaxy/testsupport/net.hpp"
#include "galaxy/testsupport/process.hpp"
#include "itest_support.hpp"

namespace galaxy::consumer::itest {
namespace {

using testsupport::free_port;

class PrivateRedis {
 public:
  PrivateRedis()
      : dir_(std::filesystem::temp_directory_path() /
             ("galaxy-consumer-redis-" + std::to_string(::getpid()) + "-" +
              std::to_string(std::random_device{}()))),
        port_(free_port()) {
    std::filesystem::create_directories(dir_);
    start();
  }
  PrivateRedis(const PrivateRedis&) = delete;
  PrivateRedis& operator=(const PrivateRedis&) = delete;
  ~PrivateRedis() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  void start() {
    const auto out = testsupport::run(
        {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--dir",
         dir_.string(), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
         "--daemonize", "yes", "--pidfile", (dir_ / "redis.pid").string(), "--logfile",
         (dir_ / "redis.log").string()},
        30s);
    if (out.exit_code != 0) {
      throw std::runtime_error("redis-server did not start: " + out.output);
    }
    const bool up = eventually(
        [this] {
          auto ep = parse_redis_url(url());
          auto c = redis::Connection::open(*ep, 1s, 1s);
          if (!c) {
            return false;
          }
          auto r = c->command({"PING"});
          return r && redis::text(r->get()) == "PONG";
        },
        30s);
    if (!up) {
      throw std::runtime_error("private redis-server on " + url() + " never answered PING");
    }
  }

  // SIGKILL: a crash, not a clean shutdown; with fsync always every acknowledged write survives.
  void stop() {
    std::ifstream pidfile(dir_ / "redis.pid");
    pid_t pid = 0;
    if (!(pidfile >> pid) || pid <= 0) {
      return;
    }
    ::kill(pid, SIGKILL);
    eventually([pid] { return ::kill(pid, 0) != 0; }, 30s);
    std::filesystem::remove(dir_ / "redis.pid");
  }

 private:
  std::filesystem::path dir_;
  std::uint16_t port_;
};

TEST(ConsumerRestartItest, RedisRestartMidConsumptionLosesNothing) {
  PrivateRedis server;
  const std::string stream = "runtime:health_events";
  auto writer = connect(server.url());
  must(writer, {"XGROUP", "CREATE", stream, "g", "0", "MKSTREAM"});
  std::set<std::string> ids;
  for (int i = 0; i < 400; ++i) {
    ids.insert(xadd_event(writer, stream, make_event(i)));
  }

  // The handler of the 100th delivery waits at a gate while Redis is killed and restarted, so
  // entries handled but not yet acknowledged exist across the restart.
  std::mutex m;
  std::condition_variable cv;
  bool at_gate = false;
  bool open = false;
  Recorder rec;
  auto o = options_for(stream, "g", "c");
  o.redis_url = server.url();
  o.reconnect_min = 50ms;
  o.reconnect_max = 500ms;
  o.connect_timeout = 1s;
  o.command_timeout = 1s;
  RunningConsumer c(o, [&](const Delivery& d) {
    rec.add("c", d.id, d.event, d.delivery_count);
    if (rec.size() == 100) {
      std::unique_lock lock(m);
      at_gate = true;
      cv.notify_all();
      cv.wait(lock, [&] { return open; });
    }
    return true;
  });
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return at_gate; }));
  }
  server.stop();
  server.start();
  {
    const std::lock_guard lock(m);
    open = true;
  }
  cv.notify_all();
  auto after = connect(server.url());
  ASSERT_TRUE(eventually([&] { return pending_count(after, stream, "g") == 0; }, 120s));
  ASSERT_TRUE(eventually([&] {
    std::set<std::string> handled;
    for (const auto& s : rec.seen()) {
      handled.insert(s.id);
    }
    return handled == ids;
  }));

  // A second crash while the consumer idles in XREADGROUP BLOCK; entries written afterwards
  // still arrive.
  server.stop();
  server.start();
  auto writer2 = connect(server.url());
  for (int i = 0; i < 50; ++i) {
    ids.insert(xadd_event(writer2, stream, make_event(1000 + i)));
  }
  ASSERT_TRUE(eventually(
      [&] {
        std::set<std::string> handled;
        for (const auto& s : rec.seen()) {
          handled.insert(s.id);
        }
        return handled == ids && pending_count(writer2, stream, "g") == 0;
      },
      120s));
  c.stop();
  EXPECT_GE(c.consumer().stats().reconnects, 2U);
  EXPECT_EQ(c.consumer().stats().handler_failures, 0U);
}

}  // namespace
}  // namespace galaxy::consumer::itest
