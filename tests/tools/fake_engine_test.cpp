// Runs the fake engine as a local process on a loopback port and checks every behaviour a test
// can ask of it. Requests to it may wait on real I/O; nothing here asserts how long anything took.
#include <gtest/gtest.h>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "galaxy/testsupport/http.hpp"
#include "galaxy/testsupport/process.hpp"

namespace {

using namespace std::chrono_literals;
using boost::beast::http::verb;
using galaxy::testsupport::Child;
using galaxy::testsupport::http_request;

std::string engine() {
  return GALAXY_FAKE_ENGINE;
}

struct Engine {
  std::unique_ptr<Child> child;
  std::uint16_t port = 0;

  auto get(std::string_view target, std::chrono::milliseconds deadline = 10s) const {
    return http_request("127.0.0.1", port, verb::get, target, deadline);
  }
  auto post(std::string_view target) const {
    return http_request("127.0.0.1", port, verb::post, target, 10s);
  }
};

Engine start(const std::vector<std::string>& flags, const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv{engine(), "--port", "0"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  Engine e;
  e.child = std::make_unique<Child>(argv, env);
  const auto line = e.child->read_line(10s);
  const std::string prefix = "fake-engine listening on ";
  if (!line || !line->starts_with(prefix)) {
    throw std::runtime_error("fake engine did not report its port: " + line.value_or("<none>"));
  }
  e.port = static_cast<std::uint16_t>(std::stoi(line->substr(prefix.size())));
  return e;
}

unsigned status_of(const Engine& e) {
  const auto res = e.get("/healthz");
  if (!res) {
    throw std::runtime_error("GET /healthz failed: " + res.error().message());
  }
  return res->status;
}

TEST(FakeEngine, AnswersHealthzWith200ByDefault) {
  const auto e = start({});
  const auto res = e.get("/healthz");
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->status, 200U);
  EXPECT_EQ(res->body, "healthy\n");
  EXPECT_EQ(e.get("/other")->status, 404U);
}

TEST(FakeEngine, StartStatusComesFromFlagOrEnvironment) {
  EXPECT_EQ(status_of(start({"--status", "503"})), 503U);
  EXPECT_EQ(status_of(start({}, {"FAKE_ENGINE_STATUS=418"})), 418U);
  // The flag wins over the environment.
  EXPECT_EQ(status_of(start({"--status", "500"}, {"FAKE_ENGINE_STATUS=418"})), 500U);
}

TEST(FakeEngine, ControlStatusChangesTheAnswerUntilReset) {
  const auto e = start({});
  ASSERT_EQ(e.post("/control/status?code=500")->status, 200U);
  const auto res = e.get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500U);
  EXPECT_EQ(res->body, "unhealthy\n");
  EXPECT_EQ(e.post("/control/status?code=42")->status, 400U);
  ASSERT_EQ(e.post("/control/reset")->status, 200U);
  EXPECT_EQ(status_of(e), 200U);
}

TEST(FakeEngine, ControlEndpointsTakePostOnly) {
  const auto e = start({});
  EXPECT_EQ(e.get("/control/status?code=500")->status, 405U);
  EXPECT_EQ(status_of(e), 200U);
  const auto state = e.get("/control/state");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->body, "{\"status\":200,\"delay_ms\":0,\"drop\":false}\n");
}

TEST(FakeEngine, DelayedAnswerMissesAShortDeadline) {
  const auto e = start({});
  ASSERT_EQ(e.post("/control/delay?ms=60000")->status, 200U);
  const auto late = e.get("/healthz", 300ms);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), boost::beast::error::timeout);
  ASSERT_EQ(e.post("/control/delay?ms=0")->status, 200U);
  EXPECT_EQ(status_of(e), 200U);

  const auto from_start = start({"--delay-ms", "60000"});
  EXPECT_EQ(from_start.get("/healthz", 300ms).error(), boost::beast::error::timeout);
}

TEST(FakeEngine, DropClosesWithoutAnswerWhileControlStillWorks) {
  const auto e = start({});
  ASSERT_EQ(e.post("/control/drop")->status, 200U);
  const auto dropped = e.get("/healthz");
  ASSERT_FALSE(dropped);
  EXPECT_EQ(dropped.error(), boost::beast::http::error::end_of_stream);
  EXPECT_EQ(e.get("/control/state")->body, "{\"status\":200,\"delay_ms\":0,\"drop\":true}\n");
  ASSERT_EQ(e.post("/control/drop?on=0")->status, 200U);
  EXPECT_EQ(status_of(e), 200U);

  EXPECT_EQ(start({}, {"FAKE_ENGINE_DROP=1"}).get("/healthz").error(),
            boost::beast::http::error::end_of_stream);
}

TEST(FakeEngine, ControlExitEndsTheProcessWithTheGivenCode) {
  const auto e = start({});
  const auto res = e.post("/control/exit?code=3");
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(e.child->wait(30s), 3);
}

TEST(FakeEngine, ExitCodeAtStart) {
  const auto e = start({"--exit-code", "7", "--exit-after-ms", "0"});
  EXPECT_EQ(e.child->wait(30s), 7);
}

TEST(FakeEngine, TerminatesCleanlyOnSigterm) {
  const auto e = start({});
  e.child->kill(SIGTERM);
  EXPECT_EQ(e.child->wait(30s), 0);
}

long resident_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      status >> kib;
      return kib;
    }
  }
  return -1;
}

// The real OOM kill needs a memory limit (see the container test); here the growth is capped.
TEST(FakeEngine, OomGrowsResidentMemory) {
  const auto e = start({});
  const long before = resident_kib(e.child->pid());
  ASSERT_EQ(e.post("/control/oom?max_mb=64")->status, 200U);
  EXPECT_EQ(e.child->read_line(30s), "fake-engine: holding 64 MiB");
  EXPECT_GE(resident_kib(e.child->pid()) - before, 60L * 1024);
  EXPECT_EQ(status_of(e), 200U);
}

TEST(FakeEngine, CheckSubcommandFollowsHealthz) {
  const auto e = start({});
  const auto port = std::to_string(e.port);
  EXPECT_EQ(galaxy::testsupport::run({engine(), "check", "--port", port}, 30s).exit_code, 0);
  ASSERT_EQ(e.post("/control/status?code=503")->status, 200U);
  const auto failing = galaxy::testsupport::run({engine(), "check", "--port", port}, 30s);
  EXPECT_EQ(failing.exit_code, 1);
  EXPECT_EQ(failing.output, "check: 503\n");
  ASSERT_EQ(e.post("/control/exit?code=0")->status, 200U);
  ASSERT_EQ(e.child->wait(30s), 0);
  EXPECT_EQ(galaxy::testsupport::run({engine(), "check", "--port", port}, 30s).exit_code, 1);
}

// Docker runs --health-cmd as ["/bin/sh", "-c", CMD]; the image's /bin/sh is this binary.
TEST(FakeEngine, ActsAsShForHealthCommands) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("fake-engine-sh-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto sh = (dir / "sh").string();
  std::filesystem::remove(sh);
  std::filesystem::create_symlink(engine(), sh);
  const auto e = start({});
  const auto port = std::to_string(e.port);
  const auto run_sh = [&](const std::string& cmd) {
    return galaxy::testsupport::run({sh, "-c", cmd}, 30s).exit_code;
  };
  EXPECT_EQ(run_sh(engine() + " check --port " + port), 0);
  EXPECT_EQ(run_sh("'" + engine() + "'  check   --port \"" + port + "\""), 0);
  EXPECT_EQ(run_sh("exit 4"), 4);
  EXPECT_EQ(run_sh("true"), 0);
  EXPECT_EQ(run_sh("false"), 1);
  EXPECT_EQ(run_sh("/nonexistent/program"), 127);
  EXPECT_EQ(galaxy::testsupport::run({sh, "script.sh"}, 30s).exit_code, 2);
  ASSERT_EQ(e.post("/control/status?code=500")->status, 200U);
  EXPECT_EQ(run_sh(engine() + " check --port " + port), 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
