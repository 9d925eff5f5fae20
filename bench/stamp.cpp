// stamp: copies stdin to stdout line by line, each line prefixed with the wall-clock time it was
// read (microseconds since the epoch, CLOCK_REALTIME) and a space. The latency benchmark pipes the
// `docker events` CLI and the daemon's stdout through it, so both sides are timed the same way.
//
// Written by hand because `ts` (moreutils) has only second-or-coarser formats by default and a
// shell read loop reads a pipe one byte per syscall; this is a few lines of read(2).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

int main() {
  std::string pending;
  char buf[65536];
  while (true) {
    const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
      std::printf("%lld %.*s\n", static_cast<long long>(now), static_cast<int>(nl - start),
                  pending.data() + start);
      start = nl + 1;
    }
    pending.erase(0, start);
    std::fflush(stdout);
  }
  if (!pending.empty()) {
    std::printf("0 %s\n", pending.c_str());
  }
  return 0;
}
