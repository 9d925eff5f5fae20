#include "galaxy/testsupport/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <system_error>

namespace galaxy::testsupport {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point until) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

int decode_status(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

// Appends what the pipe has now; false at end of output.
bool drain(int fd, std::string& into, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) {
    return true;
  }
  char buf[4096];
  const ssize_t n = read(fd, buf, sizeof buf);
  if (n <= 0) {
    return n < 0 && errno == EINTR;
  }
  into.append(buf, static_cast<std::size_t>(n));
  return true;
}

}  // namespace

Child::Child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    env.push_back(*e);
  }
  for (const auto& e : extra_env) {
    env.push_back(const_cast<char*>(e.c_str()));
  }
  env.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  const int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot start " + argv.at(0) + ": " +
                             std::generic_category().message(rc));
  }
  out_fd_ = fds[0];
  // glibc 2.36 declares pidfd_open without C linkage in C++, so call it directly.
  pid_fd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pid_fd_ < 0) {
    throw std::runtime_error("pidfd_open failed");
  }
}

Child::~Child() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  close(out_fd_);
  close(pid_fd_);
}

void Child::kill(int signal) {
  if (!status_) {
    ::kill(pid_, signal);
  }
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds deadline) {
  const auto until = Clock::now() + deadline;
  for (;;) {
    if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const int left = remaining_ms(until);
    if (left == 0) {
      return std::nullopt;
    }
    if (!drain(out_fd_, buffer_, left)) {
      if (buffer_.empty()) {
        return std::nullopt;
      }
      std::string rest = std::move(buffer_);  // a last line without '\n'
      buffer_.clear();
      return rest;
    }
  }
}

std::optional<int> Child::wait(std::chrono::milliseconds deadline) {
  if (status_) {
    return status_;
  }
  pollfd p{pid_fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(deadline.count())) <= 0) {
    return std::nullopt;
  }
  int status = 0;
  if (waitpid(pid_, &status, 0) != pid_) {
    return std::nullopt;
  }
  status_ = decode_status(status);
  return status_;
}

std::string Child::read_all(std::chrono::milliseconds deadline) {
  const auto until = Clock::now() + deadline;
  std::string out = std::move(buffer_);
  buffer_.clear();
  while (remaining_ms(until) > 0 && drain(out_fd_, out, remaining_ms(until))) {
  }
  return out;
}

ProcessOutput run(const std::vector<std::string>& argv, std::chrono::milliseconds deadline) {
  const auto until = Clock::now() + deadline;
  ProcessOutput out;
  Child child(argv);
  out.output = child.read_all(deadline);
  if (const auto code = child.wait(std::chrono::milliseconds(remaining_ms(until)))) {
    out.exit_code = *code;
  } else {
    out.timed_out = true;
    child.kill(SIGKILL);
    out.exit_code = child.wait(std::chrono::seconds(10)).value_or(-1);
  }
  return out;
}

}  // namespace galaxy::testsupport
