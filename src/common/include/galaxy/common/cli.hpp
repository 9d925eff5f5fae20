// Command-line conventions shared by runtime-manager and galaxy-health (kubectl's and redis-cli's):
// usage errors exit 2, --help and --version exit 0.
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>

namespace galaxy {

inline constexpr int kExitUsageError = 2;

// The exit code for an exception from app.parse(), once its message is printed. CLI::Success
// (--help, --help-all, --version) prints on `out` and gives 0. Any other parse error is reported
// on `err` and gives 2: CLI11's own codes (100 and up; 127 reads as "command not found") mean
// nothing to a script or a supervisor. CLI11 reports a missing subcommand or option before words
// it did not recognise, so for `prog nonsense` it would say "A subcommand is required"; the
// unrecognised word is named instead ("unknown command 'nonsense'", "unknown flag '--bogus'"),
// as git and kubectl do. `app` is the top-level App that threw.
int parse_error_exit(const CLI::App& app, const CLI::ParseError& e, std::ostream& out,
                     std::ostream& err);

}  // namespace galaxy
