// The fake engine image in a real dockerd: reachable on its bridge IP from the host, steerable
// through its control endpoints, and its exit code, OOM kill and HEALTHCHECK show in inspect.
// Needs DOCKER_HOST and the image built by scripts/fake-engine-image.
#include <gtest/gtest.h>

#include <boost/beast/http/error.hpp>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "galaxy/testsupport/http.hpp"
#include "galaxy/testsupport/process.hpp"

namespace {

using namespace std::chrono_literals;
using boost::beast::http::verb;
using galaxy::testsupport::http_request;

constexpr const char* kImage = "galaxy/fake-engine:test";

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// The docker CLI with a deadline; a failure throws with its output, which gtest reports.
std::string docker(std::vector<std::string> args) {
  args.insert(args.begin(), "docker");
  const auto out = galaxy::testsupport::run(args, 120s);
  if (out.timed_out || out.exit_code != 0) {
    std::string cmd;
    for (const auto& a : args) {
      cmd += a + " ";
    }
    throw std::runtime_error(cmd + (out.timed_out ? "timed out" : "failed") + ": " + out.output);
  }
  return trim(out.output);
}

// Polls a real condition (container state, an HTTP answer) until it holds or the deadline passes.
bool eventually(const std::function<bool()>& condition, std::chrono::seconds deadline = 60s) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(200ms);
  }
  return condition();
}

class Container {
 public:
  explicit Container(std::vector<std::string> flags) {
    std::vector<std::string> args{"run", "-d", "--label", "galaxy.test.owner=harness"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.emplace_back(kImage);
    id_ = docker(args);
  }
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;
  ~Container() { galaxy::testsupport::run({"docker", "rm", "-f", id_}, 120s); }

  std::string inspect(const std::string& format) const {
    return docker({"inspect", "-f", format, id_});
  }
  std::string ip() const {
    return inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}");
  }
  auto request(verb method, std::string_view target) const {
    return http_request(ip(), 8080, method, target, 10s);
  }
  // The process starts a moment after `docker run -d` returns.
  void wait_until_answering() const {
    const std::string address = ip();
    ASSERT_FALSE(address.empty()) << "container has no IP on the default bridge";
    ASSERT_TRUE(eventually([&] {
      return http_request(address, 8080, verb::get, "/healthz", 2s).has_value();
    })) << "fake engine at "
        << address << ":8080 never answered";
  }
  std::string wait_exit() const { return docker({"wait", id_}); }

 private:
  std::string id_;
};

class FakeEngineContainer : public ::testing::Test {
 protected:
  void SetUp() override {
    galaxy::testsupport::require_env("DOCKER_HOST");
    const auto image = galaxy::testsupport::run({"docker", "image", "inspect", kImage}, 60s);
    ASSERT_EQ(image.exit_code, 0) << kImage << " is missing in the dockerd at DOCKER_HOST: run "
                                  << "scripts/fake-engine-image first\n"
                                  << image.output;
  }
};

TEST_F(FakeEngineContainer, AnswersHealthzOnItsBridgeIp) {
  const Container c({});
  c.wait_until_answering();
  const auto res = c.request(verb::get, "/healthz");
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->status, 200U);
  EXPECT_EQ(res->body, "healthy\n");
}

TEST_F(FakeEngineContainer, ControlEndpointsWorkThroughTheContainerIp) {
  const Container c({});
  c.wait_until_answering();
  ASSERT_EQ(c.request(verb::post, "/control/status?code=500")->status, 200U);
  EXPECT_EQ(c.request(verb::get, "/healthz")->status, 500U);
  ASSERT_EQ(c.request(verb::post, "/control/drop")->status, 200U);
  EXPECT_EQ(c.request(verb::get, "/healthz").error(), boost::beast::http::error::end_of_stream);
  ASSERT_EQ(c.request(verb::post, "/control/reset")->status, 200U);
  EXPECT_EQ(c.request(verb::get, "/healthz")->status, 200U);
}

TEST_F(FakeEngineContainer, ExitCodeIsSeenInInspect) {
  const Container c({});
  c.wait_until_answering();
  ASSERT_TRUE(c.request(verb::post, "/control/exit?code=3"));
  EXPECT_EQ(c.wait_exit(), "3");
  EXPECT_EQ(c.inspect("{{.State.ExitCode}} {{.State.OOMKilled}}"), "3 false");
}

TEST_F(FakeEngineContainer, GrowingMemoryIsOomKilledUnderALimit) {
  const Container c({"--memory", "32m", "--memory-swap", "32m"});
  c.wait_until_answering();
  ASSERT_TRUE(c.request(verb::post, "/control/oom"));
  EXPECT_EQ(c.wait_exit(), "137");
  EXPECT_EQ(c.inspect("{{.State.ExitCode}} {{.State.OOMKilled}}"), "137 true");
}

// --health-cmd is run as /bin/sh -c CMD; the image's /bin/sh is the engine binary itself.
TEST_F(FakeEngineContainer, ShellFormHealthcheckFollowsTheAnswer) {
  const Container c({"--health-cmd", "/engine check", "--health-interval", "1s", "--health-timeout",
                     "5s", "--health-retries", "1"});
  c.wait_until_answering();
  const auto health = [&] { return c.inspect("{{.State.Health.Status}}"); };
  EXPECT_TRUE(eventually([&] { return health() == "healthy"; })) << health();
  ASSERT_EQ(c.request(verb::post, "/control/status?code=500")->status, 200U);
  EXPECT_TRUE(eventually([&] { return health() == "unhealthy"; })) << health();
}

}  // namespace
