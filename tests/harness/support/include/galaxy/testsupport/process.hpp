#pragma once
// Child processes with deadlines for tests that drive real programs (the fake engine, the docker
// CLI, scripts/services). Written here because Boost.Process 1.81 needs Boost.Filesystem, which the
// project does not depend on, and its timed waits are unreliable; pidfd + poll gives exact ones.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace galaxy::testsupport {

struct ProcessOutput {
  // Exit code, or 128 + signal number when killed by a signal (the shell convention).
  int exit_code = -1;
  bool timed_out = false;
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv (PATH is searched) to completion; at the deadline it is killed and timed_out is set.
ProcessOutput run(const std::vector<std::string>& argv, std::chrono::milliseconds deadline);

class Child {
 public:
  // Starts argv with stdout (and stderr) on a pipe; extra_env entries are "NAME=value".
  // Throws std::runtime_error when the program cannot be started.
  explicit Child(const std::vector<std::string>& argv,
                 const std::vector<std::string>& extra_env = {});
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();  // kills and reaps a child still running

  pid_t pid() const { return pid_; }
  // The next stdout line without '\n'; nullopt at end of output or at the deadline.
  std::optional<std::string> read_line(std::chrono::milliseconds deadline);
  // All remaining output, up to its end or the deadline.
  std::string read_all(std::chrono::milliseconds deadline);
  // Exit status as in ProcessOutput::exit_code; nullopt if still running at the deadline.
  std::optional<int> wait(std::chrono::milliseconds deadline);
  void kill(int signal);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int pid_fd_ = -1;
  std::optional<int> status_;
  std::string buffer_;
};

}  // namespace galaxy::testsupport
