// Timers are the other half of the time seam (clock.hpp): a Timer comes from a Clock and waits in
// that clock's time, so code that reads time from a ManualClock also waits in it and a unit test
// advances time instead of sleeping. A component cannot mix a hand-driven clock with real timers,
// which is why the factory is the Clock itself rather than a second seam beside it.
//
// Why an abstract timer with a token-generic async_wait: the prober waits with plain callbacks
// (its hot path has no coroutines) and the watcher with co_await inside awaitable operators that
// cancel the losing branch, so the seam has to take any completion token and honour
// per-operation cancellation. async_initiate over an any_completion_handler gives both behind one
// virtual call, so the components stay non-templated and the real timer stays an
// asio::steady_timer (one small allocation per wait is the price, next to a TCP connect).
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>

namespace galaxy {

// A one-shot timer on one executor, shaped like the part of asio::steady_timer the components
// use. Waits complete on the executor, never inside the call that started them: with success at
// the expiry, with operation_aborted when cancelled by cancel(), a new expiry, the timer's
// destruction or the handler's cancellation slot (any cancellation type).
class Timer {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;
  using Handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  virtual ~Timer() = default;

  // Both cancel the pending waits first.
  virtual void expires_at(time_point t) = 0;
  virtual void expires_after(duration d) = 0;
  virtual time_point expiry() const = 0;
  // Returns how many waits it cancelled.
  virtual std::size_t cancel() = 0;

  template <boost::asio::completion_token_for<void(boost::system::error_code)> Token>
  auto async_wait(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [](auto handler, Timer* self) { self->start_wait(Handler(std::move(handler))); }, token,
        this);
  }

 protected:
  Timer() = default;

  virtual void start_wait(Handler handler) = 0;
};

}  // namespace galaxy
