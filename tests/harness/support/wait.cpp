#include "galaxy/testsupport/wait.hpp"

#include <thread>

namespace galaxy::testsupport {

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds deadline,
                std::chrono::milliseconds poll) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(poll);
  }
  return condition();
}

}  // namespace galaxy::testsupport
