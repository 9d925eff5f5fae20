// The daemon's admin listener against the real dockerd, with the tools operators use: a container
// to watch and probe, /metrics checked by `promtool check metrics` and scraped by a real
// Prometheus, /readyz and /livez in their verbose form.
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <regex>

#include "daemon.hpp"
#include "galaxy/testsupport/wait.hpp"

namespace {

using namespace galaxy::apptest;
using namespace std::chrono_literals;
namespace http = boost::beast::http;

using AdminTest = DaemonTest;

std::string get(std::uint16_t port, const std::string& target, unsigned* status = nullptr) {
  auto r = ts::http_request("127.0.0.1", port, http::verb::get, target, 10s);
  if (!r) {
    ADD_FAILURE() << target << ": " << r.error().message();
    return "";
  }
  if (status != nullptr) {
    *status = r->status;
  }
  return r->body;
}

// The value of one sample line "name{labels} value"; -1 when absent.
double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

TEST_F(AdminTest, MetricsPassPromtoolAndCountWhatTheDaemonSees) {
  auto d = start_daemon();
  run("game-metrics", {});
  auto events = d->take(1);
  ASSERT_EQ(events.size(), 1U);
  std::string text;
  ASSERT_TRUE(ts::eventually(
      [&] {
        text = get(d->admin_port(), "/metrics");
        return sample(text, "galaxy_probes_total{result=\"ok\"}") > 0;
      },
      60s))
      << text;
  EXPECT_EQ(sample(text, "galaxy_watched_containers"), 1);
  EXPECT_EQ(sample(text, "galaxy_events_emitted_total{type=\"container_started\"}"), 1);
  EXPECT_EQ(sample(text, "galaxy_dependency_up{dependency=\"docker\"}"), 1);
  EXPECT_GE(sample(text, "galaxy_probe_duration_seconds_count"), 1);
  EXPECT_GT(sample(text, "process_resident_memory_bytes"), 0);
  EXPECT_EQ(text.find(events[0].container_id), std::string::npos) << "no container ID in any label";

  const auto file = state_ / "metrics.txt";
  std::ofstream(file) << text;
  const auto check = ts::run({"sh", "-c", "promtool check metrics < " + file.string()}, 60s);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(check.output, "") << "promtool lints nothing";
  d->stop();
}

TEST_F(AdminTest, ReadyzAndLivezInTheKubernetesForm) {
  auto d = start_daemon();
  unsigned status = 0;
  std::string body;
  ASSERT_TRUE(ts::eventually(
      [&] {
        body = get(d->admin_port(), "/readyz?verbose", &status);
        return status == 200;
      },
      30s))
      << body;
  EXPECT_EQ(body, "[+]ping ok\n[+]docker ok\n[+]synced ok\n[+]shutdown ok\nreadyz check passed\n");
  EXPECT_EQ(get(d->admin_port(), "/readyz"), "ok\n");
  EXPECT_EQ(get(d->admin_port(), "/livez?verbose"), "[+]ping ok\nlivez check passed\n");
  EXPECT_NE(get(d->admin_port(), "/").find("/metrics"), std::string::npos);
  get(d->admin_port(), "/nope", &status);
  EXPECT_EQ(status, 404U);
  d->stop();
}

TEST_F(AdminTest, ARealPrometheusScrapesTheDaemon) {
  auto d = start_daemon();
  run("game-scraped", {});
  ASSERT_EQ(d->take(1).size(), 1U);
  const auto web_port = ts::free_port();
  const auto config = state_ / "prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 1s\n"
                        << "scrape_configs:\n  - job_name: runtime-manager\n"
                        << "    static_configs:\n      - targets: ['127.0.0.1:" << d->admin_port()
                        << "']\n";
  ts::Child prometheus({"prometheus", "--config.file=" + config.string(),
                        "--storage.tsdb.path=" + (state_ / "tsdb").string(),
                        "--web.listen-address=127.0.0.1:" + std::to_string(web_port)});
  std::string answer;
  const bool scraped = ts::eventually(
      [&] {
        auto r = ts::http_request("127.0.0.1", web_port, http::verb::get,
                                  "/api/v1/query?query=galaxy_watched_containers", 5s);
        if (!r || r->status != 200) {
          return false;
        }
        answer = r->body;
        return std::regex_search(answer, std::regex(R"("value":\[[0-9.]+,"1"\])"));
      },
      90s);
  EXPECT_TRUE(scraped) << answer;
  auto up = ts::http_request("127.0.0.1", web_port, http::verb::get, "/api/v1/query?query=up", 5s);
  ASSERT_TRUE(up);
  EXPECT_TRUE(std::regex_search(up->body, std::regex(R"("value":\[[0-9.]+,"1"\])"))) << up->body;
  prometheus.kill(SIGTERM);
  prometheus.wait(30s);
  d->stop();
}

// systemd's side of Type=notify, played by a datagram socket of the test's own.
TEST_F(AdminTest, TellsSystemdReadyPetsTheWatchdogAndSaysStopping) {
  const std::string path = (state_ / "notify.sock").string();
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);  // NOLINT
  std::vector<std::string> got;
  const auto drain = [&] {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0;) {
      got.emplace_back(buf, static_cast<std::size_t>(n));
    }
  };
  const auto count = [&](const std::string& want) {
    drain();
    return std::count_if(got.begin(), got.end(),
                         [&](const std::string& m) { return m.find(want) != std::string::npos; });
  };
  const auto received = [&](const std::string& want) {
    return ts::eventually([&] { return count(want) > 0; }, 30s);
  };
  Daemon d(label_, state_, sink_args(), {}, {"NOTIFY_SOCKET=" + path, "WATCHDOG_USEC=400000"});
  EXPECT_TRUE(received("READY=1"));
  EXPECT_TRUE(ts::eventually([&] { return count("WATCHDOG=1") >= 3; }, 30s))
      << "WATCHDOG=1 every WATCHDOG_USEC/2";
  d.stop();
  EXPECT_TRUE(received("STOPPING=1"));
  ::close(fd);
}

}  // namespace
