// Time is an I/O seam: sources ask a Clock for wall time (event timestamps), steady time
// (schedules, deadlines) and timers (timer.hpp) that wait in that same steady time, so unit tests
// drive time by hand and never sleep.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace galaxy {

class Timer;

class Clock {
 public:
  virtual ~Clock() = default;
  // UTC milliseconds since the epoch, for occurred_at_ms.
  virtual std::int64_t wall_ms() const = 0;
  // Monotonic time, for schedules and deadlines.
  virtual std::chrono::steady_clock::time_point steady() const = 0;
  // A timer whose expiry is in steady() time and whose waits complete on `executor`. The clock
  // must outlive it.
  virtual std::unique_ptr<Timer> make_timer(const boost::asio::any_io_executor& executor) const = 0;
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
  // An asio::steady_timer.
  std::unique_ptr<Timer> make_timer(const boost::asio::any_io_executor& executor) const override;
};

// A clock that only moves when told to; for unit tests. Its timers fire only from advance(), in
// deadline order (ties in the order the waits were started); a wait whose expiry has already come
// completes on the next run of its executor, as an asio timer's would.
//
// Single-threaded: use it from the thread that runs the executors of its timers. Destroy it before
// the io_context its timers complete on (declare it after), as that io_context's own timers would
// be: it drops the waits still pending, and their handlers may hold work on that context.
class ManualClock final : public Clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;

  explicit ManualClock(std::int64_t wall_ms = 1'700'000'000'000);
  ~ManualClock() override;
  ManualClock(const ManualClock&) = delete;
  ManualClock& operator=(const ManualClock&) = delete;

  std::int64_t wall_ms() const override;
  time_point steady() const override;
  std::unique_ptr<Timer> make_timer(const boost::asio::any_io_executor& executor) const override;

  // Moves both times forward by d; the waits that fall due complete on their executors, so their
  // handlers run when the caller next runs the io_context. With `settle`, time stops at each
  // deadline on the way and settle() runs there (and once at the end): given a function that runs
  // the io_context until idle, a handler sees the time it was due at and a timer it sets within d
  // still fires within this call, as under real time. Without it, every handler sees the end time.
  void advance(duration d, const std::function<void()>& settle = {});

  // Waits started and not yet completed or cancelled.
  std::size_t pending_waits() const;
  std::optional<time_point> next_deadline() const;

  struct State;

 private:
  // Shared with the timers: one that a queued handler keeps alive past the clock can still be
  // destroyed safely.
  std::shared_ptr<State> state_;
  std::int64_t wall_base_ms_;
};

}  // namespace galaxy
