// Running an operator's command once per event (galaxy-health consume --exec).
#pragma once

#include <chrono>
#include <string_view>

#include "galaxy/common/result.hpp"

namespace galaxy::cli {

struct ExecOutcome {
  // The exit code, or 128 + the signal number when the command was killed (the shell convention).
  int exit_code = -1;
  bool timed_out = false;  // killed with SIGKILL at the deadline
};

// Runs `/bin/sh -c command` with `input` on its stdin and this process's stdout/stderr, and waits
// for it until `timeout`. The child gets default signal dispositions and an empty signal mask
// (the CLI blocks SIGINT/SIGTERM in its own threads). A command that exits without reading its
// input is fine (no SIGPIPE reaches this process). Returns Error{"exec", reason} when the command
// cannot be started. Thread-safe (each call has its own pipe and child).
Result<ExecOutcome> run_with_stdin(std::string_view command, std::string_view input,
                                   std::chrono::milliseconds timeout);

}  // namespace galaxy::cli
