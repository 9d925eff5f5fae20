// galaxy-health's command line: exit codes (0 for --help and --version, 2 for every kind of usage
// error, never CLI11's own 100+ codes) in process and through the built binary. No services: every
// case here fails or finishes before a connection is made.
#include "galaxy/cli/command_line.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "galaxy/testsupport/process.hpp"

namespace {

using galaxy::cli::CommandLine;
namespace ts = galaxy::testsupport;
using namespace std::chrono_literals;

struct Parsed {
  std::optional<int> exit_code;
  std::string out;
  std::string err;
};

Parsed parse(CommandLine& cli, std::vector<std::string> args) {
  std::ostringstream out;
  std::ostringstream err;
  auto code = cli.parse(std::move(args), out, err);
  return {code, out.str(), err.str()};
}

Parsed parse(std::vector<std::string> args) {
  CommandLine cli;
  return parse(cli, std::move(args));
}

TEST(HealthCommandLine, EveryKindOfUsageErrorExitsTwo) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{}, "A subcommand is required"},                                 // RequiredError
      {{"nonsense"}, "unknown command 'nonsense'"},                     // unknown subcommand
      {{"--bogus"}, "unknown flag '--bogus'"},                          // unknown flag
      {{"stats", "--bogus"}, "--bogus"},                                // ... after a subcommand
      {{"consume", "--consumer", "c"}, "--group is required"},          // RequiredError
      {{"consume", "--group", "g", "--consumer", "c", "x"}, "x"},       // ExtrasError
      {{"consume", "x"}, "unexpected argument 'x'"},                    // extra word + missing
      {{"stats", "extra"}, "extra"},                                    // ExtrasError
      {{"validate", "--format", "xml"}, "xml not in {payload,entry}"},  // ValidationError
      {{"snapshot", "-o", "yaml"}, "yaml not in {table,wide,json}"},    // ValidationError
      {{"stats", "--output=yaml"}, "yaml"},                             // ... the = form
      {{"snapshot", "--json", "-o", "wide"}, "excludes"},               // ExcludesError
      {{"hosts", "-o", "yaml"}, "yaml not in {table,wide,json}"},       // ValidationError
      {{"hosts", "host-a"}, "host-a"},                                  // ExtrasError
      {{"hosts", "--json", "-o", "table"}, "excludes"},                 // ExcludesError
      {{"tail", "--count", "many"}, "--count"},                         // ConversionError
      {{"tail", "--from"}, "--from"},                                   // ArgumentMismatch
      {{"consume", "--group", "g", "--consumer", "c", "--claim-idle", "soon"}, "--claim-idle"},
      {{"completion"}, "shell is required"},  // positional missing
      {{"completion", "fish"}, "fish not in {bash,zsh}"},
  };
  for (const auto& [args, message] : cases) {
    const auto r = parse(args);
    std::string argv;
    for (const auto& a : args) {
      argv += " " + a;
    }
    EXPECT_EQ(r.exit_code, 2) << "galaxy-health" << argv;
    EXPECT_NE(r.err.find(message), std::string::npos) << "galaxy-health" << argv << ": " << r.err;
    EXPECT_EQ(r.out, "") << argv;
  }
}

TEST(HealthCommandLine, HelpAndVersionExitZeroOnStdout) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"-h"}, {"stats", "--help"}, {"tail", "-h"}}) {
    const auto r = parse(args);
    EXPECT_EQ(r.exit_code, 0) << args.front();
    EXPECT_NE(r.out.find("Usage: galaxy-health"), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "");
  }
  EXPECT_NE(parse({"stats", "--help"}).out.find("--no-headers"), std::string::npos);
  const auto hosts_help = parse({"hosts", "--help"}).out;
  for (const auto* flag : {"--output", "--json", "--no-headers"}) {
    EXPECT_NE(hosts_help.find(flag), std::string::npos) << flag << hosts_help;
  }
  // --version needs no subcommand, and works after one (the flags fall through).
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--version"}, {"stats", "--version"}}) {
    const auto r = parse(args);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out.rfind("galaxy-health ", 0), 0U) << r.out;
    EXPECT_EQ(r.err, "");
  }
}

TEST(HealthCommandLine, ValidArgumentsLeaveTheRunToRun) {
  for (const std::vector<std::string>& args : {
           std::vector<std::string>{"stats"},
           {"stats", "-o", "wide", "--no-headers"},
           {"stats", "--output=json"},
           {"--stream", "s", "snapshot", "g1", "g2", "--json"},
           {"snapshot", "-owide"},
           {"hosts"},
           {"--postgres-url", "postgresql://db/x", "hosts", "-o", "wide", "--no-headers"},
           {"hosts", "--json"},
           {"tail", "--from", "start", "--type", "probe_failed", "--count", "3"},
           {"consume", "--group", "g", "--consumer", "c", "--claim-idle", "2s"},
           {"validate", "--format", "entry", "-"},
           {"completion", "zsh"},
       }) {
    const auto r = parse(args);
    EXPECT_EQ(r.exit_code, std::nullopt) << args.front() << ": " << r.err;
  }
}

TEST(HealthCommandLine, RunPrintsTheCompletionScriptOfItsOwnApp) {
  CommandLine cli;
  ASSERT_EQ(parse(cli, {"completion", "bash"}).exit_code, std::nullopt);
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(cli.run(in, out, err, false), 0);
  EXPECT_EQ(out.str(), galaxy::cli::render_completion(cli.app(), cli.completion_hints(),
                                                      galaxy::cli::Shell::bash));
  EXPECT_EQ(err.str(), "");
}

TEST(HealthCommandLine, RunValidatesStdin) {
  CommandLine cli;
  ASSERT_EQ(parse(cli, {"validate"}).exit_code, std::nullopt);
  std::istringstream in("{}\n");
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(cli.run(in, out, err, false), 1);
  EXPECT_EQ(out.str().rfind("invalid: ", 0), 0U) << out.str();
}

// The binary itself, as a shell or a script sees it.

TEST(GalaxyHealthBinary, VersionPrintsVersionAndCommit) {
  const auto r = ts::run({GALAXY_HEALTH_BIN, "--version"}, 30s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_match(r.output, std::regex(R"(galaxy-health )" GALAXY_PROJECT_VERSION
                                                    R"( \(commit ([0-9a-f]{12}|unknown)\)\n)")))
      << r.output;
}

TEST(GalaxyHealthBinary, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--bogus"}, {"nonsense"}, {}, {"stats", "--output", "yaml"}}) {
    std::vector<std::string> argv{GALAXY_HEALTH_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = ts::run(argv, 30s);
    EXPECT_EQ(r.exit_code, 2) << (args.empty() ? "" : args.front()) << ": " << r.output;
    EXPECT_NE(r.output.find("Run with --help"), std::string::npos) << r.output;
  }
  EXPECT_EQ(ts::run({GALAXY_HEALTH_BIN, "--help"}, 30s).exit_code, 0);
}

TEST(GalaxyHealthBinary, DatabaseCommandsWithoutAUsablePostgresUrlExitTwo) {
  for (const auto* command : {"hosts", "snapshot", "web"}) {
    auto r = ts::run({"env", "-u", "GALAXY_POSTGRES_URL", GALAXY_HEALTH_BIN, command}, 30s);
    EXPECT_EQ(r.exit_code, 2) << command << ": " << r.output;
    EXPECT_EQ(r.output, std::string("galaxy-health ") + command +
                            ": --postgres-url (or GALAXY_POSTGRES_URL) is required\n");
    r = ts::run({GALAXY_HEALTH_BIN, "--postgres-url", "postgresql://[bad", command}, 30s);
    EXPECT_EQ(r.exit_code, 2) << command << ": " << r.output;
    EXPECT_NE(r.output.find(std::string("galaxy-health ") + command + ": --postgres-url: "),
              std::string::npos)
        << r.output;
  }
}

TEST(GalaxyHealthBinary, WebRefusesAnOpenAddressWithoutATokenAndABadListen) {
  const std::string pg = "--postgres-url=postgresql://nobody@127.0.0.1:1/none";
  auto r = ts::run({GALAXY_HEALTH_BIN, pg, "web", "--listen", "0.0.0.0:0"}, 30s);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is not a loopback address: give --token-file"), std::string::npos)
      << r.output;
  r = ts::run({GALAXY_HEALTH_BIN, pg, "web", "--listen", "127.0.0.1"}, 30s);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--listen 127.0.0.1: "), std::string::npos) << r.output;
  r = ts::run({GALAXY_HEALTH_BIN, pg, "web", "--token-file", "/nonexistent/tokens"}, 30s);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("cannot open /nonexistent/tokens"), std::string::npos) << r.output;
}

}  // namespace
