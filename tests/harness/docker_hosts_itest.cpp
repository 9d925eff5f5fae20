// The two Docker hosts of the harness (the fleet tests run a daemon on each): host A, DOCKER_HOST,
// and host B, GALAXY_DOCKER_HOST_B from `scripts/services up --host-b`, are independent dockerds.
// Each sees only its own containers and gives them an IP on its own bridge that this host reaches,
// each has its own engine ID, and restarting A's dockerd leaves B and its containers running.
// Needs the fake engine image in both (scripts/test imports it into each).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/network_v4.hpp>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "galaxy/testsupport/docker_hosts.hpp"
#include "galaxy/testsupport/http.hpp"
#include "galaxy/testsupport/process.hpp"
#include "galaxy/testsupport/wait.hpp"

namespace {

using namespace std::chrono_literals;
using boost::beast::http::verb;
namespace ts = galaxy::testsupport;

constexpr const char* kImage = "galaxy/fake-engine:test";

// A label value no other test (nor an earlier run of this one) uses.
std::string run_label() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->name()) + "-" + std::to_string(::getpid());
}

// A fake engine container on one host, labelled with the test's run label; removed at the end.
class Container {
 public:
  Container(std::string host, const std::string& label) : host_(std::move(host)) {
    id_ = ts::docker_cli(host_, {"run", "-d", "--label", "galaxy.test.owner=harness", "--label",
                                 "galaxy.test.run=" + label, kImage});
  }
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;
  ~Container() { ts::run({"docker", "-H", host_, "rm", "-f", id_}, 120s); }

  const std::string& id() const { return id_; }
  std::string inspect(const std::string& format) const {
    return ts::docker_cli(host_, {"inspect", "-f", format, id_});
  }
  std::string ip() const {
    return inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}");
  }

 private:
  std::string host_;
  std::string id_;
};

bool answers(const std::string& ip) {
  const auto res = ts::http_request(ip, 8080, verb::get, "/healthz", 2s);
  return res && res->status == 200;
}

// The full IDs of the containers, running or not, that carry the run label on that host.
std::vector<std::string> labelled(const std::string& host, const std::string& label) {
  std::istringstream lines(ts::docker_cli(
      host, {"ps", "-a", "-q", "--no-trunc", "--filter", "label=galaxy.test.run=" + label}));
  std::vector<std::string> ids;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) {
      ids.push_back(line);
    }
  }
  return ids;
}

std::string bridge_subnet(const std::string& host) {
  return ts::docker_cli(
      host, {"network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}"});
}

bool in_subnet(const std::string& ip, const std::string& subnet) {
  const auto net = boost::asio::ip::make_network_v4(subnet);
  const auto addr = boost::asio::ip::make_address_v4(ip);
  return boost::asio::ip::network_v4(addr, net.prefix_length()).network() == net.network();
}

class TwoDockerHosts : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = ts::docker_host_a();
    b_ = ts::docker_host_b();
    for (const auto& host : {a_, b_}) {
      const auto image = ts::run({"docker", "-H", host, "image", "inspect", kImage}, 60s);
      ASSERT_EQ(image.exit_code, 0)
          << kImage << " is missing in the dockerd at " << host
          << ": run scripts/fake-engine-image with DOCKER_HOST=" << host << "\n"
          << image.output;
    }
  }

  std::string a_;
  std::string b_;
};

TEST_F(TwoDockerHosts, EachHasItsOwnEngineRootAndBridge) {
  const auto info = [](const std::string& host) {
    return ts::docker_cli(host, {"info", "-f", "{{.ID}}|{{.DockerRootDir}}"});
  };
  const std::string a = info(a_);
  const std::string b = info(b_);
  EXPECT_NE(a.substr(0, a.find('|')), b.substr(0, b.find('|'))) << "same engine ID: " << a;
  EXPECT_NE(a.substr(a.find('|')), b.substr(b.find('|'))) << "same data root: " << a;
  const std::string subnet_a = bridge_subnet(a_);
  const std::string subnet_b = bridge_subnet(b_);
  ASSERT_FALSE(subnet_a.empty());
  ASSERT_FALSE(subnet_b.empty());
  EXPECT_NE(subnet_a, subnet_b) << "both bridges hand out addresses from " << subnet_a;
}

TEST_F(TwoDockerHosts, ContainersAreSeenOnlyOnTheirOwnHost) {
  const std::string label = run_label();
  const Container on_b(b_, label);
  const Container on_a(a_, label);
  EXPECT_EQ(labelled(a_, label), std::vector<std::string>{on_a.id()});
  EXPECT_EQ(labelled(b_, label), std::vector<std::string>{on_b.id()});
  EXPECT_NE(ts::run({"docker", "-H", a_, "inspect", on_b.id()}, 60s).exit_code, 0)
      << "host A knows host B's container " << on_b.id();
  EXPECT_NE(ts::run({"docker", "-H", b_, "inspect", on_a.id()}, 60s).exit_code, 0)
      << "host B knows host A's container " << on_a.id();

  // Each on its own host's bridge, and reachable from here on that IP (the daemon probes it so).
  const std::string ip_a = on_a.ip();
  const std::string ip_b = on_b.ip();
  ASSERT_FALSE(ip_a.empty()) << "the container on host A has no IP";
  ASSERT_FALSE(ip_b.empty()) << "the container on host B has no IP";
  EXPECT_TRUE(in_subnet(ip_a, bridge_subnet(a_))) << ip_a << " not in " << bridge_subnet(a_);
  EXPECT_TRUE(in_subnet(ip_b, bridge_subnet(b_))) << ip_b << " not in " << bridge_subnet(b_);
  EXPECT_TRUE(ts::eventually([&] { return answers(ip_a); }, 60s, 100ms))
      << "fake engine on host A at " << ip_a << ":8080 never answered";
  EXPECT_TRUE(ts::eventually([&] { return answers(ip_b); }, 60s, 100ms))
      << "fake engine on host B at " << ip_b << ":8080 never answered";
}

TEST_F(TwoDockerHosts, RestartingHostADoesNotTouchHostB) {
  const std::string state_a = ts::require_env("GALAXY_STATE_DIR");
  const std::string label = run_label();
  const Container on_a(a_, label);
  const Container on_b(b_, label);
  const std::string ip_b = on_b.ip();
  ASSERT_FALSE(ip_b.empty());
  ASSERT_TRUE(ts::eventually([&] { return answers(on_a.ip()); }, 60s, 100ms));
  ASSERT_TRUE(ts::eventually([&] { return answers(ip_b); }, 60s, 100ms));
  const std::string before = on_b.inspect("{{.State.Pid}} {{.State.StartedAt}}");

  // Host B is watched the whole time A's dockerd stops and starts: its dockerd answers /_ping and
  // its engine /healthz, every time.
  std::atomic<bool> done{false};
  std::atomic<int> checks{0};
  std::mutex mu;
  std::vector<std::string> misses;
  std::thread watcher([&] {
    const std::string socket_b = ts::docker_socket(b_);
    while (!done) {
      const auto ping = ts::http_request_unix(socket_b, verb::get, "/_ping", 5s);
      const bool engine = answers(ip_b);
      if (!ping || ping->status != 200 || !engine) {
        const std::lock_guard lock(mu);
        misses.push_back(std::string(!ping ? "/_ping: " + ping.error().message() : "") +
                         (engine ? "" : " /healthz of " + ip_b + " failed"));
      }
      ++checks;
      std::this_thread::sleep_for(100ms);
    }
  });
  const std::string services = std::string(GALAXY_SOURCE_DIR) + "/scripts/services";
  const auto r = ts::run({services, "restart", "docker", "--state", state_a}, 180s);
  done = true;
  watcher.join();
  ASSERT_EQ(r.exit_code, 0) << r.output;

  EXPECT_GT(checks.load(), 0);
  EXPECT_TRUE(misses.empty()) << misses.size() << " of " << checks.load()
                              << " checks of host B failed while A restarted; first: "
                              << misses.front();
  // A's dockerd really went away: its container stopped with it (no restart policy).
  ts::require_docker_ping(a_, "DOCKER_HOST");
  EXPECT_EQ(on_a.inspect("{{.State.Running}}"), "false");
  // B's container is the same process, never restarted, and still answers.
  EXPECT_EQ(on_b.inspect("{{.State.Running}}"), "true");
  EXPECT_EQ(on_b.inspect("{{.State.Pid}} {{.State.StartedAt}}"), before);
  EXPECT_TRUE(answers(ip_b));
  EXPECT_EQ(labelled(b_, label), std::vector<std::string>{on_b.id()});
}

}  // namespace
