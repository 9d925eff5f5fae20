#pragma once
// Waiting on real I/O (a service coming up, an entry arriving) with a generous deadline; tests
// assert that the condition came true, never how long it took.
#include <chrono>
#include <functional>

namespace galaxy::testsupport {

// Polls condition every `poll` until it holds or `deadline` passes; true when it held, including
// on a last check at the deadline.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds deadline = std::chrono::seconds(120),
                std::chrono::milliseconds poll = std::chrono::milliseconds(20));

}  // namespace galaxy::testsupport
