// Time is an I/O seam: sources ask a Clock for wall time (event timestamps) and steady time
// (schedules, deadlines), so unit tests drive time by hand and never sleep.
#pragma once

#include <chrono>
#include <cstdint>

namespace galaxy {

class Clock {
 public:
  virtual ~Clock() = default;
  // UTC milliseconds since the epoch, for occurred_at_ms.
  virtual std::int64_t wall_ms() const = 0;
  // Monotonic time, for schedules and deadlines.
  virtual std::chrono::steady_clock::time_point steady() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t wall_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::chrono::steady_clock::time_point steady() const override {
    return std::chrono::steady_clock::now();
  }
};

// A clock that only moves when told to; for unit tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t wall_ms = 1'700'000'000'000) : wall_ms_(wall_ms) {}
  std::int64_t wall_ms() const override { return wall_ms_; }
  std::chrono::steady_clock::time_point steady() const override { return steady_; }
  void advance(std::chrono::milliseconds d) {
    wall_ms_ += d.count();
    steady_ += d;
  }

 private:
  std::int64_t wall_ms_;
  std::chrono::steady_clock::time_point steady_{};
};

}  // namespace galaxy
