// galaxy-health's command line: every subcommand and flag on one CLI11 App, and the step from the
// parsed flags to the commands. main() hands it argv and the process's streams; tests drive it in
// process, and `completion` renders its scripts from the same App, so neither can drift from it.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "galaxy/cli/commands.hpp"
#include "galaxy/cli/completion.hpp"
#include "galaxy/cli/engines.hpp"

namespace galaxy::cli {

class CommandLine {
 public:
  CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  // Parses the arguments after the program name. nullopt: parsed, call run(). Otherwise the exit
  // code to return at once: 0 once --help or --version is printed on `out`, kExitUsage (2) once a
  // usage error (any CLI11 parse error: unknown flag or subcommand, missing or invalid value,
  // extra argument) is reported on `err`. CLI11's own codes (100 and up) are never returned.
  std::optional<int> parse(std::vector<std::string> args, std::ostream& out, std::ostream& err);

  // Runs the parsed subcommand and returns its exit code (kExitOk, kExitFailure, kExitUsage).
  // `in` is validate's stdin; `color` says whether table output may use ANSI colors (see
  // color_enabled). tail and consume stop on SIGINT/SIGTERM.
  int run(std::istream& in, std::ostream& out, std::ostream& err, bool color);

  const CLI::App& app() const { return app_; }
  const CompletionHints& completion_hints() const { return hints_; }

 private:
  struct OutputFlags {
    std::string format = "table";
    bool json = false;
    bool no_headers = false;
    OutputOptions resolve(bool color) const;
  };

  CLI::Option* hint(CLI::Option* opt, ValueHint h);
  CLI::Option* choices(CLI::Option* opt, std::vector<std::string> words);
  void add_output_flags(
      CLI::App& sub, OutputFlags& flags,
      const std::string& help = "table, wide (more columns) or json (one JSON object per line)");
  int run_validate(std::istream& in, std::ostream& out, std::ostream& err) const;
  void add_engines();
  int run_engines(std::ostream& out, std::ostream& err, bool color);

  CLI::App app_;
  CompletionHints hints_;
  Connection conn_;

  CLI::App* validate_ = nullptr;
  std::vector<std::string> validate_files_;
  std::string validate_format_ = "payload";
  bool validate_json_ = false;
  bool validate_canonical_ = false;

  CLI::App* tail_ = nullptr;
  TailOptions tail_opts_;
  std::uint64_t tail_count_ = 0;
  CLI::Option* tail_count_opt_ = nullptr;

  CLI::App* consume_ = nullptr;
  ConsumeOptions consume_opts_;
  std::uint64_t consume_count_ = 0;
  CLI::Option* consume_count_opt_ = nullptr;
  std::string exec_cmd_;
  CLI::Option* exec_opt_ = nullptr;
  std::string claim_idle_ = "30s";
  std::string exec_timeout_ = "60s";

  CLI::App* snapshot_ = nullptr;
  SnapshotOptions snapshot_opts_;
  OutputFlags snapshot_output_;

  CLI::App* hosts_ = nullptr;
  OutputFlags hosts_output_;

  CLI::App* stats_ = nullptr;
  OutputFlags stats_output_;

  CLI::App* web_ = nullptr;
  std::string web_listen_ = "127.0.0.1:8090";
  std::string web_token_file_;

  // engines and its subcommands; `game` is the GAME positional of show, stop, restart and rm.
  CLI::App* engines_ = nullptr;
  EnginesConnection engines_conn_;
  std::string request_timeout_ = "2m";
  std::string game_;
  CLI::App* engines_run_ = nullptr;
  EngineSpec run_spec_;
  std::vector<std::string> run_env_;
  std::vector<std::string> run_labels_;
  int healthz_port_ = 0;
  CLI::Option* healthz_port_opt_ = nullptr;
  std::string healthz_path_ = "/healthz";
  std::string memory_;
  CLI::Option* memory_opt_ = nullptr;
  double cpus_ = 0;
  CLI::Option* cpus_opt_ = nullptr;
  std::string network_;
  CLI::Option* network_opt_ = nullptr;
  CLI::App* engines_ls_ = nullptr;
  CLI::App* engines_show_ = nullptr;
  CLI::App* engines_stop_ = nullptr;
  std::string stop_timeout_;
  CLI::Option* stop_timeout_opt_ = nullptr;
  CLI::App* engines_restart_ = nullptr;
  CLI::App* engines_rm_ = nullptr;
  OutputFlags engines_output_;  // only one engines subcommand runs at a time

  CLI::App* completion_ = nullptr;
  std::string completion_shell_;
};

}  // namespace galaxy::cli
