#include "galaxy/cli/exec.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <system_error>

namespace galaxy::cli {

namespace {

Error exec_error(std::string_view what) {
  return make_error("exec", std::string(what) + ": " + std::generic_category().message(errno));
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_;
};

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
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

// Writes all of input unless the reader goes away or the deadline passes; SIGPIPE is blocked for
// this thread meanwhile and a pending one is consumed, so the process never dies of it.
void feed(int fd, std::string_view input, std::chrono::steady_clock::time_point deadline) {
  sigset_t pipe_set;
  sigset_t old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  bool broken = false;
  while (!input.empty()) {
    pollfd p{fd, POLLOUT, 0};
    const int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready <= 0) {
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      break;
    }
    const auto n = ::write(fd, input.data(), input.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        continue;
      }
      broken = errno == EPIPE;
      break;
    }
    input.remove_prefix(static_cast<std::size_t>(n));
  }
  if (broken) {
    const timespec zero{};
    while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
}

}  // namespace

Result<ExecOutcome> run_with_stdin(std::string_view command, std::string_view input,
                                   std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string cmd(command);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return exec_error("pipe");
  }
  Fd read_end(fds[0]);
  Fd write_end(fds[1]);
  const pid_t pid = ::fork();
  if (pid < 0) {
    return exec_error("fork");
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec: this process may have other threads.
    ::dup2(fds[0], STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGPIPE, &dfl, nullptr);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  read_end.reset();
  // pidfd_open (Linux 5.3) turns "wait for exit until a deadline" into one poll.
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  ::fcntl(write_end.get(), F_SETFL, ::fcntl(write_end.get(), F_GETFL) | O_NONBLOCK);
  feed(write_end.get(), input, deadline);
  write_end.reset();

  ExecOutcome outcome;
  if (pidfd.get() >= 0) {
    pollfd p{pidfd.get(), POLLIN, 0};
    int ready = 0;
    do {
      ready = ::poll(&p, 1, remaining_ms(deadline));
    } while (ready < 0 && errno == EINTR);
    if (ready == 0) {
      ::kill(pid, SIGKILL);
      outcome.timed_out = true;
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return exec_error("waitpid");
    }
  }
  outcome.exit_code = decode_status(status);
  return outcome;
}

}  // namespace galaxy::cli
