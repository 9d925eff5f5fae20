// Shared by the daemon's end-to-end tests: the docker CLI, the runtime-manager process and a
// fixture that gives each test its own label key (so other tests' containers never reach it).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "galaxy/contract/codec.hpp"
#include "galaxy/testsupport/http.hpp"
#include "galaxy/testsupport/net.hpp"
#include "galaxy/testsupport/process.hpp"

namespace galaxy::apptest {

using namespace std::chrono_literals;
using galaxy::contract::Event;
using galaxy::contract::EventType;
namespace ts = galaxy::testsupport;
namespace contract = galaxy::contract;

constexpr const char* kImage = "galaxy/fake-engine:test";

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// The docker CLI against DOCKER_HOST; a failing command fails the test with its output.
inline std::string docker(std::vector<std::string> args, std::chrono::milliseconds deadline = 60s) {
  args.insert(args.begin(), "docker");
  auto r = ts::run(args, deadline);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : args) {
      cmd += a + " ";
    }
    throw std::runtime_error(cmd + "-> exit " + std::to_string(r.exit_code) + ": " + r.output);
  }
  return trim(r.output);
}

class Daemon {
 public:
  Daemon(const std::string& label, const std::filesystem::path& state,
         const std::vector<std::string>& sink, const std::vector<std::string>& extra,
         const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {
        GALAXY_RUNTIME_MANAGER, "serve",
        "--state-dir",          state.string(),
        "--label-game-id",      label,
        "--log-level",          "warn",
        "--admin-listen",       "127.0.0.1:" + std::to_string(admin_port_)};
    argv.insert(argv.end(), sink.begin(), sink.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    child_.emplace(argv, env);
  }

  // Where the daemon's /metrics, /livez and /readyz are.
  std::uint16_t admin_port() const { return admin_port_; }

  // The next event line (logs on the same pipe are skipped), or nullopt at the deadline.
  std::optional<Event> next(std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left <= 0ms) {
        return std::nullopt;
      }
      auto line = child_->read_line(left);
      if (!line) {
        return std::nullopt;
      }
      if (line->rfind("{\"game_id\"", 0) != 0) {
        logs_ += *line + "\n";
        continue;
      }
      auto e = contract::decode_payload(*line);
      if (!e) {
        ADD_FAILURE() << "daemon wrote an invalid payload: " << *line << ": "
                      << e.error().message();
        return std::nullopt;
      }
      return *e;
    }
  }

  // Exactly n events; fails listing what came when fewer arrive.
  std::vector<Event> take(std::size_t n, std::chrono::milliseconds deadline = 30s) {
    std::vector<Event> out;
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (out.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      auto e = next(std::max(left, 1ms));
      if (!e) {
        std::string got;
        for (const auto& x : out) {
          got += contract::encode_payload(x) + "\n";
        }
        ADD_FAILURE() << "expected " << n << " events, got " << out.size() << ":\n"
                      << got << "daemon log:\n"
                      << logs_;
        break;
      }
      out.push_back(*e);
    }
    return out;
  }

  // Nothing more within the quiet period (a wait, not a timing assertion).
  void expect_quiet(std::chrono::milliseconds quiet) {
    if (auto e = next(quiet)) {
      ADD_FAILURE() << "unexpected event: " << contract::encode_payload(*e);
    }
  }

  void kill9() {
    child_->kill(SIGKILL);
    child_->wait(15s);
  }

  // SIGSTOP, SIGCONT, ...: what a test does to the process besides stopping it.
  void send(int signal) { child_->kill(signal); }

  // The log lines written so far (read off the pipe, so a chatty daemon never blocks on it).
  const std::string& logs() {
    while (auto line = child_->read_line(1ms)) {
      logs_ += *line + "\n";
    }
    return logs_;
  }

  void stop() {
    child_->kill(SIGTERM);
    auto status = child_->wait(15s);
    EXPECT_EQ(status, std::optional<int>(0)) << "daemon must stop cleanly on SIGTERM";
  }

 private:
  std::uint16_t admin_port_ = ts::free_port();
  std::optional<ts::Child> child_;
  std::string logs_;
};

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ts::require_env("DOCKER_HOST");
    label_ = std::string("galaxy.itest.") + std::to_string(::getpid()) + "." +
             ::testing::UnitTest::GetInstance()->current_test_info()->name();
    state_ = std::filesystem::temp_directory_path() / ("galaxy-serve-" + label_);
    std::filesystem::remove_all(state_);
    std::filesystem::create_directories(state_);
    docker({"image", "inspect", "--format", "{{.Id}}", kImage});  // fails clearly when missing
  }
  void TearDown() override {
    auto ids = ts::run({"docker", "ps", "-aq", "--filter", "label=" + label_}, 30s);
    std::istringstream in(ids.output);
    for (std::string id; in >> id;) {
      ts::run({"docker", "rm", "-f", id}, 30s);
    }
    std::filesystem::remove_all(state_);
  }

  std::unique_ptr<Daemon> start_daemon(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--probe-interval", "300ms", "--probe-timeout",    "250ms",
                                     "--start-grace",    "0s",    "--inspect-interval", "2s"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto d = std::make_unique<Daemon>(label_, state_, sink_args(), args);
    std::this_thread::sleep_for(1s);  // let it subscribe before the test acts (a real wait)
    return d;
  }

  // docker run -d with this test's label; returns the full container id.
  std::string run(const std::string& game, std::vector<std::string> run_args,
                  std::vector<std::string> cmd = {}) {
    std::vector<std::string> args = {"run", "-d", "--label", label_ + "=" + game};
    args.insert(args.end(), run_args.begin(), run_args.end());
    args.emplace_back(kImage);
    if (!cmd.empty()) {
      args.emplace_back("/engine");
      args.insert(args.end(), cmd.begin(), cmd.end());
    }
    return docker(args);
  }

  std::string ip_of(const std::string& id) {
    return docker(
        {"inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id});
  }

  void control(const std::string& id, const std::string& target) {
    auto r = ts::http_request(ip_of(id), 8080, boost::beast::http::verb::post, target, 5s);
    ASSERT_TRUE(r) << target << ": " << r.error().message();
    ASSERT_EQ(r->status, 200U) << target << ": " << r->body;
  }

  static Event ev(const std::string& game, const std::string& id, std::int64_t at,
                  contract::Details d) {
    return Event{game, id, at, std::move(d)};
  }

  // The sink flags of this fixture's daemons.
  virtual std::vector<std::string> sink_args() { return {"--sink", "stdout"}; }

  std::string label_;
  std::filesystem::path state_;
};

}  // namespace galaxy::apptest
