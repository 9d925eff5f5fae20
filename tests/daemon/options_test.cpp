// The serve command line, environment and config file, without spawning the binary.
#include "galaxy/daemon/options.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace galaxy::daemon {
namespace {

using namespace std::chrono_literals;

class OptionsTest : public ::testing::Test {
 protected:
  CLI::App app{"test"};
  CLI::App* serve = app.add_subcommand("serve");
  DaemonSettings settings;
  std::string config_file;
  std::filesystem::path file = std::filesystem::temp_directory_path() /
                               ("daemon-options-" + std::to_string(::getpid()) + ".toml");

  // The tests run under whatever environment started them (CI exports DOCKER_HOST and the
  // service URLs): serve's variables are cleared first, so only what a test sets is seen.
  void SetUp() override {
    add_serve_flags(*serve, settings, config_file);
    for (const CLI::Option* opt : serve->get_options()) {
      if (!opt->get_envname().empty()) {
        ::unsetenv(opt->get_envname().c_str());  // NOLINT(concurrency-mt-unsafe): one thread
      }
    }
  }
  void TearDown() override {
    std::filesystem::remove(file);
    ::unsetenv("GALAXY_RM_PROBE_INTERVAL");  // NOLINT(concurrency-mt-unsafe): one thread
  }
  void parse(std::vector<std::string> args, const std::string& toml = "") {
    if (!toml.empty()) {
      std::ofstream(file) << toml;
      args.insert(args.begin() + 1, {"--config", file.string()});
    }
    parse_command_line(app, *serve, std::move(args), "");
  }
  static std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const CLI::Error& e) {
      return e.what();
    }
    return "(no error)";
  }
};

TEST_F(OptionsTest, DefaultsAreTheModulesOwn) {
  parse({"serve"});
  const DaemonSettings fresh;
  EXPECT_EQ(settings.probes.interval, probe::ProbeSchedulerSettings{}.interval);
  EXPECT_EQ(settings.watcher.inspect_interval, sources::WatcherSettings{}.inspect_interval);
  EXPECT_EQ(settings.durable.stream, publish::DurableSinkSettings{}.stream);
  EXPECT_EQ(settings.docker.host, docker::DockerClientSettings{}.host);
  EXPECT_EQ(settings.shutdown_timeout, fresh.shutdown_timeout);
  EXPECT_EQ(settings.sink, SinkKind::durable);
}

TEST_F(OptionsTest, FlagsBecomeTypedSettings) {
  parse({"serve", "--probe-interval", "250ms", "--sink", "stdout", "--queue-capacity", "5000",
         "--label-game-id", "x.game", "--oom-window", "1m"});
  EXPECT_EQ(settings.probes.interval, 250ms);
  EXPECT_EQ(settings.sink, SinkKind::stdout_lines);
  EXPECT_EQ(settings.durable.queue_capacity, 5000U);
  EXPECT_EQ(settings.watcher.model.labels.game_id, "x.game");
  EXPECT_EQ(settings.watcher.model.oom_window, 60s);
}

TEST_F(OptionsTest, TheFileOverridesTheDefaults) {
  const std::string toml = "probe-interval = \"3s\"\nprobe-timeout = \"2s\"\n";
  parse({"serve"}, toml);
  EXPECT_EQ(settings.probes.interval, 3s) << "the file over the default";
  EXPECT_EQ(settings.probes.probe.timeout, 2s);
}

TEST_F(OptionsTest, TheEnvironmentOverridesTheFile) {
  ::setenv("GALAXY_RM_PROBE_INTERVAL", "4s", 1);  // NOLINT(concurrency-mt-unsafe): one thread
  parse({"serve"}, "probe-interval = \"3s\"\n");
  EXPECT_EQ(settings.probes.interval, 4s);
}

TEST_F(OptionsTest, AFlagOverridesEnvironmentAndFile) {
  ::setenv("GALAXY_RM_PROBE_INTERVAL", "4s", 1);  // NOLINT(concurrency-mt-unsafe): one thread
  parse({"serve", "--probe-interval", "7s"}, "probe-interval = \"3s\"\n");
  EXPECT_EQ(settings.probes.interval, 7s);
}

TEST_F(OptionsTest, AnUnknownKeyIsNamed) {
  const auto e = error_of([&] { parse({"serve"}, "probe-intervall = \"2s\"\n"); });
  EXPECT_NE(e.find("unknown key 'probe-intervall'"), std::string::npos) << e;
}

TEST_F(OptionsTest, AWrongTypeNamesTheKey) {
  const auto e = error_of([&] { parse({"serve"}, "probe-interval = [1, 2]\n"); });
  EXPECT_NE(e.find("key 'probe-interval' must be a string, integer or boolean"), std::string::npos)
      << e;
}

TEST_F(OptionsTest, TheAdminAddressIsCheckedAtParseTimeAndEmptyTurnsItOff) {
  const auto e = error_of([&] { parse({"serve", "--admin-listen", "localhost:7464"}); });
  EXPECT_NE(e.find("--admin-listen"), std::string::npos) << e;
  EXPECT_NE(e.find("IP address"), std::string::npos) << e;
  parse({"serve", "--admin-listen", "", "--log-format", "json"});
  EXPECT_EQ(settings.admin.listen, "");
  EXPECT_EQ(settings.log_format, LogFormat::json);
}

TEST_F(OptionsTest, ABadValueInTheFileNamesTheFlag) {
  const auto e = error_of([&] { parse({"serve"}, "probe-interval = \"soon\"\n"); });
  EXPECT_NE(e.find("--probe-interval"), std::string::npos) << e;
  EXPECT_NE(e.find("soon"), std::string::npos) << e;
}

TEST_F(OptionsTest, ASyntaxErrorNamesTheFileAndLine) {
  const auto e = error_of([&] { parse({"serve"}, "sink = \"stdout\"\nprobe-timeout = \"1s\n"); });
  EXPECT_NE(e.find(file.string()), std::string::npos) << e;
  EXPECT_NE(e.find("(line 2)"), std::string::npos) << e;
}

// The README states the defaults an operator sees; they must be the ones the daemon uses.
TEST_F(OptionsTest, TheReadmesDefaultsAreTheDaemons) {
  std::ifstream in(std::string(GALAXY_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << in.rdbuf();
  const auto readme = text.str();
  const auto from = readme.find("Defaults: ");
  const auto to = readme.find("Durations are written", from);
  ASSERT_NE(from, std::string::npos) << "README.md has no 'Defaults: ' list";
  ASSERT_NE(to, std::string::npos);
  const std::string list = readme.substr(from, to - from);
  const std::regex pair("`(--[a-z-]+) ([^`]+)`");
  int checked = 0;
  for (std::sregex_iterator it(list.begin(), list.end(), pair), end; it != end; ++it) {
    const std::string flag = (*it)[1];
    const std::string value = (*it)[2];
    const CLI::Option* opt = serve->get_option_no_throw(flag);
    ASSERT_NE(opt, nullptr) << "README names " << flag << ", which serve does not have";
    EXPECT_EQ(opt->get_default_str(), value) << flag;
    ++checked;
  }
  EXPECT_GE(checked, 10) << "the README's defaults list was not found in the expected form";
}

TEST_F(OptionsTest, TheFleetFlagsAreCheckedWhenParsed) {
  parse({"serve", "--host-id", "eu1-node-7", "--lease-ttl", "5s", "--adopt-after", "2m"});
  EXPECT_EQ(settings.host_id, "eu1-node-7");
  EXPECT_EQ(settings.lease.ttl, 5s);
  EXPECT_EQ(settings.adopt_after, 120s);
  auto e = error_of([&] { parse({"serve", "--host-id", "node 7"}); });
  EXPECT_NE(e.find("--host-id"), std::string::npos) << e;
  e = error_of([&] { parse({"serve", "--lease-ttl", "1s"}); });
  EXPECT_NE(e.find("between 3s and 10m"), std::string::npos) << e;
}

TEST_F(OptionsTest, TheReplicaWaitFlagsAreCheckedWhenParsed) {
  parse({"serve"});
  EXPECT_EQ(settings.durable.wait_replicas, 0);
  parse({"serve", "--redis-url", "redis-sentinel://127.0.0.1:26379,127.0.0.1:26380/galaxy",
         "--redis-wait-replicas", "1", "--redis-wait-timeout", "250ms"});
  EXPECT_EQ(settings.durable.redis_url, "redis-sentinel://127.0.0.1:26379,127.0.0.1:26380/galaxy");
  EXPECT_EQ(settings.durable.wait_replicas, 1);
  EXPECT_EQ(settings.durable.wait_timeout, 250ms);
  auto e = error_of([&] { parse({"serve", "--redis-wait-replicas", "-1"}); });
  EXPECT_NE(e.find("--redis-wait-replicas"), std::string::npos) << e;
  e = error_of([&] { parse({"serve", "--redis-wait-timeout", "5ms"}); });
  EXPECT_NE(e.find("10ms to 1m"), std::string::npos) << e;
}

}  // namespace
}  // namespace galaxy::daemon
