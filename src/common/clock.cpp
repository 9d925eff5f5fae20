#include "galaxy/common/clock.hpp"

#include <algorithm>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/assert.hpp>
#include <compare>
#include <map>
#include <utility>
#include <vector>

#include "galaxy/common/timer.hpp"

namespace galaxy {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

class SteadyTimer final : public Timer {
 public:
  explicit SteadyTimer(const asio::any_io_executor& executor) : timer_(executor) {}
  void expires_at(time_point t) override { timer_.expires_at(t); }
  void expires_after(duration d) override { timer_.expires_after(d); }
  time_point expiry() const override { return timer_.expiry(); }
  std::size_t cancel() override { return timer_.cancel(); }

 private:
  void start_wait(Handler handler) override { timer_.async_wait(std::move(handler)); }

  asio::steady_timer timer_;
};

}  // namespace

// Named, not anonymous: ManualClock::State (an external type) points at it.
namespace detail {
class ManualTimer;
}

std::unique_ptr<Timer> SystemClock::make_timer(const asio::any_io_executor& executor) const {
  return std::make_unique<SteadyTimer>(executor);
}

struct ManualClock::State {
  struct Key {
    time_point deadline;
    std::uint64_t seq;  // start order, so that equal deadlines fire deterministically
    // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
    auto operator<=>(const Key&) const = default;
  };
  struct Wait {
    detail::ManualTimer* owner;
    Timer::Handler handler;
    // Tracks work, as a pending asio timer does: the context does not run out of work (and stop)
    // while the wait is pending.
    asio::any_io_executor work;
  };

  static void complete(Wait wait, error_code ec) {
    asio::post(wait.work, asio::append(std::move(wait.handler), ec));
  }

  time_point now{};
  std::uint64_t next_seq = 0;
  std::map<Key, Wait> pending;
};

namespace detail {

using State = ManualClock::State;

class ManualTimer final : public Timer {
 public:
  ManualTimer(std::shared_ptr<State> state, asio::any_io_executor executor)
      : state_(std::move(state)), executor_(std::move(executor)) {}
  ~ManualTimer() override { cancel(); }

  void expires_at(time_point t) override {
    cancel();
    expiry_ = t;
  }
  void expires_after(duration d) override { expires_at(state_->now + d); }
  time_point expiry() const override { return expiry_; }

  std::size_t cancel() override {
    std::size_t cancelled = 0;
    for (const auto& key : std::exchange(waits_, {})) {
      if (auto node = state_->pending.extract(key)) {
        State::complete(std::move(node.mapped()), asio::error::operation_aborted);
        ++cancelled;
      }
    }
    return cancelled;
  }

  void forget(const State::Key& key) { std::erase(waits_, key); }

 private:
  // Per-operation cancellation: the wait is found by key, so a slot that fires after the wait
  // completed (nothing clears it then, as with asio's timers) finds nothing to do.
  struct CancelWait {
    // A constructor, not aggregate init: clang 14 (the fuzz preset) has no parenthesized
    // aggregate initialization, which the slot's emplace needs.
    CancelWait(std::weak_ptr<State> s, State::Key k) : state(std::move(s)), key(k) {}
    std::weak_ptr<State> state;
    State::Key key;
    void operator()(asio::cancellation_type type) const {
      const auto s = state.lock();
      if (type == asio::cancellation_type::none || !s) {
        return;
      }
      if (auto node = s->pending.extract(key)) {
        node.mapped().owner->forget(key);
        State::complete(std::move(node.mapped()), asio::error::operation_aborted);
      }
    }
  };

  void start_wait(Handler handler) override {
    if (expiry_ <= state_->now) {
      asio::post(executor_, asio::append(std::move(handler), error_code{}));
      return;
    }
    const State::Key key{expiry_, state_->next_seq++};
    if (auto slot = asio::get_associated_cancellation_slot(handler); slot.is_connected()) {
      slot.template emplace<CancelWait>(std::weak_ptr<State>(state_), key);
    }
    state_->pending.emplace(
        key, State::Wait{this, std::move(handler),
                         asio::prefer(executor_, asio::execution::outstanding_work.tracked)});
    waits_.push_back(key);
  }

  std::shared_ptr<State> state_;
  asio::any_io_executor executor_;
  time_point expiry_{};
  std::vector<State::Key> waits_;  // this timer's entries in state_->pending
};

}  // namespace detail

ManualClock::ManualClock(std::int64_t wall_ms)
    : state_(std::make_shared<State>()), wall_base_ms_(wall_ms) {}

ManualClock::~ManualClock() {
  // Dropped unrun: nothing moves this time any more. Taken out of the map first, since destroying
  // a handler can destroy a timer, which looks for its waits there.
  while (!state_->pending.empty()) {
    auto doomed = std::exchange(state_->pending, {});
    doomed.clear();
  }
}

std::int64_t ManualClock::wall_ms() const {
  return wall_base_ms_ +
         std::chrono::duration_cast<std::chrono::milliseconds>(state_->now.time_since_epoch())
             .count();
}

ManualClock::time_point ManualClock::steady() const {
  return state_->now;
}

std::unique_ptr<Timer> ManualClock::make_timer(const asio::any_io_executor& executor) const {
  return std::make_unique<detail::ManualTimer>(state_, executor);
}

void ManualClock::advance(duration d, const std::function<void()>& settle) {
  BOOST_ASSERT(d >= duration::zero());
  const time_point target = state_->now + d;
  auto& pending = state_->pending;
  while (!pending.empty() && pending.begin()->first.deadline <= target) {
    state_->now = std::max(state_->now, pending.begin()->first.deadline);
    while (!pending.empty() && pending.begin()->first.deadline <= state_->now) {
      auto node = pending.extract(pending.begin());
      node.mapped().owner->forget(node.key());
      State::complete(std::move(node.mapped()), error_code{});
    }
    if (settle) {
      settle();
    }
  }
  state_->now = target;
  if (settle) {
    settle();
  }
}

std::size_t ManualClock::pending_waits() const {
  return state_->pending.size();
}

std::optional<ManualClock::time_point> ManualClock::next_deadline() const {
  if (state_->pending.empty()) {
    return std::nullopt;
  }
  return state_->pending.begin()->first.deadline;
}

}  // namespace galaxy
