// galaxy-health: the operator CLI. Only wiring: the command line lives in galaxy::cli::CommandLine
// and each subcommand's work in the module library.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "galaxy/cli/command_line.hpp"

int main(int argc, char** argv) {
  galaxy::cli::CommandLine cli;
  if (auto exit_code = cli.parse({argv + 1, argv + argc}, std::cout, std::cerr)) {
    return *exit_code;
  }
  // Read once, before any thread starts.
  const char* no_color = std::getenv("NO_COLOR");  // NOLINT(concurrency-mt-unsafe)
  std::ios::sync_with_stdio(false);
  return cli.run(std::cin, std::cout, std::cerr,
                 galaxy::cli::color_enabled(::isatty(STDOUT_FILENO) == 1, no_color));
}
