// runtime-manager's command line and config file: bad input is refused at start with exit code 2
// and a message that names what was wrong. No services needed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "galaxy/testsupport/process.hpp"

namespace {

namespace ts = galaxy::testsupport;
using namespace std::chrono_literals;

class ConfigTest : public ::testing::Test {
 protected:
  std::filesystem::path file = std::filesystem::temp_directory_path() /
                               ("rm-config-" + std::to_string(::getpid()) + ".toml");
  void TearDown() override { std::filesystem::remove(file); }

  ts::ProcessOutput serve_with(const std::string& toml, std::vector<std::string> extra = {}) {
    std::ofstream(file) << toml;
    std::vector<std::string> argv = {GALAXY_RUNTIME_MANAGER, "serve", "--config", file.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return ts::run(argv, 30s);
  }
};

TEST_F(ConfigTest, UnknownKeyIsNamed) {
  auto r = serve_with("probe-intervall = \"2s\"\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown key 'probe-intervall'"), std::string::npos) << r.output;
}

TEST_F(ConfigTest, BadValueNamesTheFlag) {
  auto r = serve_with("probe-interval = \"soon\"\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--probe-interval: duration 'soon'"), std::string::npos) << r.output;
}

TEST_F(ConfigTest, SyntaxErrorNamesTheFileAndLine) {
  auto r = serve_with("sink = \"stdout\"\nprobe-timeout = \"1s\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(file.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(line 2)"), std::string::npos) << r.output;
}

TEST_F(ConfigTest, FlagsOverrideTheFile) {
  // The file's value is fine; the flag's is not, and the flag wins.
  auto r = serve_with("oom-window = \"2s\"\n", {"--oom-window", "2 s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--oom-window: duration '2 s'"), std::string::npos) << r.output;
}

TEST(CommandLine, BadValuesAreRefusedAtStart) {
  for (const auto& [flag, value, expect] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--sink", "kafka", "--sink"},
           {"--probe-failure-threshold", "0", "--probe-failure-threshold"},
           {"--start-grace", "-1s", "--start-grace"},
       }) {
    auto r = ts::run({GALAXY_RUNTIME_MANAGER, "serve", flag, value}, 30s);
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_NE(r.output.find(expect), std::string::npos) << r.output;
  }
}

TEST(CommandLine, VersionPrintsVersionAndCommit) {
  auto r = ts::run({GALAXY_RUNTIME_MANAGER, "--version"}, 30s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_match(r.output, std::regex(R"(runtime-manager )" GALAXY_PROJECT_VERSION
                                                    R"( \(commit ([0-9a-f]{12}|unknown)\)\n)")))
      << r.output;
}

TEST(CommandLine, HelpExitsZeroAndUsageErrorsExitTwo) {
  EXPECT_EQ(ts::run({GALAXY_RUNTIME_MANAGER, "--help"}, 30s).exit_code, 0);
  EXPECT_EQ(ts::run({GALAXY_RUNTIME_MANAGER, "serve", "--help"}, 30s).exit_code, 0);
  for (const std::vector<std::string>& args : {
           std::vector<std::string>{},  // no subcommand (RequiredError)
           {"nonsense"},                // unknown subcommand
           {"--bogus"},                 // unknown flag
           {"serve", "--bogus"},        // ... on the subcommand
           {"serve", "extra"},          // ExtrasError
           {"serve", "--sink"},         // a value missing
           {"serve", "--probe-interval"},
       }) {
    std::vector<std::string> argv{GALAXY_RUNTIME_MANAGER};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = ts::run(argv, 30s);
    EXPECT_EQ(r.exit_code, 2) << (args.empty() ? "(none)" : args.back()) << ": " << r.output;
  }
  // Named, not reported as a missing subcommand.
  EXPECT_NE(ts::run({GALAXY_RUNTIME_MANAGER, "nonsense"}, 30s)
                .output.find("runtime-manager: unknown command 'nonsense'"),
            std::string::npos);
}

}  // namespace
