// A few-KiB static program to build test images with `docker import` (no registry is reachable):
//   tiny_engine               runs until SIGTERM, then exits 0
//   tiny_engine exit N        exits with status N at once
//   tiny_engine fail          exits 1 (a HEALTHCHECK command that always fails)
//   tiny_engine oom           allocates until the memory limit kills it
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_term(int /*signal*/) {
  g_stop = 1;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc > 1 ? argv[1] : "";
  if (mode == "exit" && argc > 2) {
    return std::atoi(argv[2]);
  }
  if (mode == "fail") {
    return 1;
  }
  if (mode == "oom") {
    for (;;) {
      constexpr std::size_t kStep = 1 << 20;
      auto* p = static_cast<char*>(std::malloc(kStep));
      if (p != nullptr) {
        std::memset(p, 1, kStep);
      }
    }
  }
  std::signal(SIGTERM, on_term);
  std::signal(SIGINT, on_term);
  while (g_stop == 0) {
    pause();
  }
  return 0;
}
