// The time seam's timers: ManualClock's fire only when time is advanced, in deadline order, on the
// io_context; SystemClock's are asio timers. Nothing here sleeps or asserts on real time.
#include "galaxy/common/clock.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "galaxy/common/timer.hpp"

namespace galaxy {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using std::chrono::milliseconds;
using namespace asio::experimental::awaitable_operators;

asio::awaitable<error_code> wait(Timer& timer) {
  error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

class ManualClockTimers : public ::testing::Test {
 protected:
  asio::io_context ioc;
  ManualClock clock;  // after ioc: goes first, with any wait still pending

  // Runs what is ready; time does not move, so this is everything that can happen now.
  void settle() {
    ioc.restart();
    while (ioc.poll() > 0) {
    }
  }
  void advance(milliseconds d) {
    clock.advance(d, [this] { settle(); });
  }

  std::unique_ptr<Timer> timer_at(milliseconds from_now) {
    auto t = clock.make_timer(ioc.get_executor());
    t->expires_after(from_now);
    return t;
  }

  // Starts a wait that records `name` and the time it completed at, or "name!" when aborted.
  void record(Timer& t, std::string name) {
    t.async_wait([this, name = std::move(name)](const error_code& ec) {
      fired.push_back(ec ? name + "!" : name);
      seen_at.push_back(clock.steady());
    });
  }

  std::vector<std::string> fired;
  std::vector<ManualClock::time_point> seen_at;
  const ManualClock::time_point t0 = clock.steady();
};

TEST_F(ManualClockTimers, DueTimersFireInDeadlineOrderWhenAdvanced) {
  auto c = timer_at(milliseconds(30));
  auto a = timer_at(milliseconds(10));
  auto b = timer_at(milliseconds(20));
  record(*c, "c");
  record(*a, "a");
  record(*b, "b");
  settle();
  EXPECT_TRUE(fired.empty()) << "nothing is due before time moves";
  EXPECT_EQ(clock.pending_waits(), 3U);
  EXPECT_EQ(clock.next_deadline(), t0 + milliseconds(10));

  clock.advance(milliseconds(15));
  EXPECT_TRUE(fired.empty()) << "handlers run on the io_context, not inside advance()";
  settle();
  EXPECT_EQ(fired, std::vector<std::string>{"a"});

  clock.advance(milliseconds(15));
  settle();
  EXPECT_EQ(fired, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(clock.pending_waits(), 0U);
}

TEST_F(ManualClockTimers, NothingFiresBeforeItsDeadline) {
  auto t = timer_at(milliseconds(10));
  record(*t, "t");
  clock.advance(milliseconds(10) - std::chrono::nanoseconds(1));
  settle();
  EXPECT_TRUE(fired.empty());
  clock.advance(std::chrono::nanoseconds(1));
  settle();
  EXPECT_EQ(fired, std::vector<std::string>{"t"});
}

TEST_F(ManualClockTimers, EqualDeadlinesFireInTheOrderTheWaitsStarted) {
  auto second = timer_at(milliseconds(5));
  auto first = timer_at(milliseconds(5));
  record(*first, "first");
  record(*second, "second");
  advance(milliseconds(5));
  EXPECT_EQ(fired, (std::vector<std::string>{"first", "second"}));
}

TEST_F(ManualClockTimers, WithSettleEachHandlerSeesItsOwnDeadline) {
  auto a = timer_at(milliseconds(10));
  auto b = timer_at(milliseconds(25));
  record(*a, "a");
  record(*b, "b");
  advance(milliseconds(40));
  EXPECT_EQ(fired, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(seen_at,
            (std::vector<ManualClock::time_point>{t0 + milliseconds(10), t0 + milliseconds(25)}));
  EXPECT_EQ(clock.steady(), t0 + milliseconds(40));
}

TEST_F(ManualClockTimers, ATimerReArmedFromItsHandlerFiresAgainWithinOneAdvance) {
  auto t = clock.make_timer(ioc.get_executor());
  int ticks = 0;
  std::function<void()> arm = [&] {
    t->expires_after(milliseconds(10));
    t->async_wait([&](const error_code& ec) {
      if (!ec) {
        ++ticks;
        arm();
      }
    });
  };
  arm();
  advance(milliseconds(100));
  EXPECT_EQ(ticks, 10);
  EXPECT_EQ(t->expiry(), t0 + milliseconds(110));

  // Without settle time jumps: the handler runs afterwards, at the end time.
  clock.advance(milliseconds(100));
  settle();
  EXPECT_EQ(ticks, 11);
  EXPECT_EQ(t->expiry(), t0 + milliseconds(210));
}

TEST_F(ManualClockTimers, CancelCompletesWithOperationAbortedAndNeverFires) {
  auto t = timer_at(milliseconds(10));
  record(*t, "t");
  EXPECT_EQ(t->cancel(), 1U);
  EXPECT_TRUE(fired.empty()) << "not inline";
  EXPECT_EQ(clock.pending_waits(), 0U);
  settle();
  EXPECT_EQ(fired, std::vector<std::string>{"t!"});
  advance(milliseconds(50));
  EXPECT_EQ(fired, std::vector<std::string>{"t!"});
  EXPECT_EQ(t->cancel(), 0U);
}

TEST_F(ManualClockTimers, ANewExpiryCancelsThePendingWait) {
  auto t = timer_at(milliseconds(10));
  record(*t, "old");
  t->expires_after(milliseconds(20));
  record(*t, "new");
  advance(milliseconds(15));
  EXPECT_EQ(fired, std::vector<std::string>{"old!"});
  advance(milliseconds(5));
  EXPECT_EQ(fired, (std::vector<std::string>{"old!", "new"}));
}

TEST_F(ManualClockTimers, DestroyingATimerCancelsItsWait) {
  auto t = timer_at(milliseconds(10));
  record(*t, "t");
  t.reset();
  advance(milliseconds(20));
  EXPECT_EQ(fired, std::vector<std::string>{"t!"});
}

TEST_F(ManualClockTimers, ATimerSetInThePastFiresOnTheNextRun) {
  advance(milliseconds(100));
  auto past = clock.make_timer(ioc.get_executor());
  past->expires_at(clock.steady() - milliseconds(50));
  auto now = clock.make_timer(ioc.get_executor());
  now->expires_after(milliseconds(0));
  record(*past, "past");
  record(*now, "now");
  EXPECT_TRUE(fired.empty()) << "not inline";
  EXPECT_EQ(clock.pending_waits(), 0U) << "nothing to wait for";
  settle();
  EXPECT_EQ(fired, (std::vector<std::string>{"past", "now"}));
  EXPECT_EQ(clock.steady(), t0 + milliseconds(100)) << "without advancing";
}

TEST_F(ManualClockTimers, CancellationSlotAbortsTheWait) {
  auto t = timer_at(milliseconds(10));
  auto keep = timer_at(milliseconds(10));
  asio::cancellation_signal signal;
  std::optional<error_code> got;
  t->async_wait(asio::bind_cancellation_slot(signal.slot(), [&](error_code ec) { got = ec; }));
  record(*keep, "keep");
  signal.emit(asio::cancellation_type::terminal);
  EXPECT_FALSE(got.has_value()) << "not inline";
  settle();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, asio::error::operation_aborted);
  EXPECT_EQ(clock.pending_waits(), 1U) << "only that wait";
  signal.emit(asio::cancellation_type::terminal);  // a second time: nothing left to cancel
  advance(milliseconds(10));
  EXPECT_EQ(fired, std::vector<std::string>{"keep"});
}

TEST_F(ManualClockTimers, AwaitableOrCancelsTheLoser) {
  auto fast = timer_at(milliseconds(10));
  auto slow = timer_at(milliseconds(20));
  std::optional<std::variant<error_code, error_code>> result;
  asio::co_spawn(
      ioc, [&]() -> asio::awaitable<void> { result = co_await (wait(*fast) || wait(*slow)); },
      asio::detached);
  settle();
  EXPECT_EQ(clock.pending_waits(), 2U);
  advance(milliseconds(10));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->index(), 0U);
  EXPECT_EQ(std::get<0>(*result), error_code{});
  EXPECT_EQ(clock.pending_waits(), 0U) << "the slow wait was cancelled, not left pending";
}

TEST_F(ManualClockTimers, CoSpawnCancellationReachesTheAwaitedTimer) {
  auto t = timer_at(milliseconds(1000));
  asio::cancellation_signal signal;
  std::optional<error_code> got;
  asio::co_spawn(ioc, wait(*t),
                 asio::bind_cancellation_slot(
                     signal.slot(), [&](const std::exception_ptr&, error_code ec) { got = ec; }));
  settle();
  EXPECT_FALSE(got.has_value());
  signal.emit(asio::cancellation_type::terminal);
  settle();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, asio::error::operation_aborted);
}

TEST_F(ManualClockTimers, APendingWaitIsWorkForTheContext) {
  auto t = timer_at(milliseconds(10));
  record(*t, "t");
  settle();
  EXPECT_FALSE(ioc.stopped()) << "as with an asio timer, the loop does not run out of work";
  advance(milliseconds(10));
  EXPECT_TRUE(ioc.stopped());
}

TEST_F(ManualClockTimers, WallTimeMovesWithSteadyTime) {
  const std::int64_t wall0 = clock.wall_ms();
  advance(milliseconds(1500));
  EXPECT_EQ(clock.wall_ms(), wall0 + 1500);
  EXPECT_EQ(clock.steady(), t0 + milliseconds(1500));
}

TEST(ManualClockLifetime, DestroyedWithWaitsPendingDropsThemUnrun) {
  asio::io_context ioc;
  auto owned = std::make_shared<int>(0);
  std::unique_ptr<Timer> outlives;
  bool ran = false;
  {
    ManualClock clock;
    outlives = clock.make_timer(ioc.get_executor());
    outlives->expires_after(milliseconds(10));
    outlives->async_wait([&ran, owned](const error_code&) { ran = true; });
  }
  EXPECT_EQ(owned.use_count(), 1) << "the handler was destroyed with the clock";
  outlives.reset();
  ioc.restart();
  ioc.poll();
  EXPECT_FALSE(ran);
}

TEST(SystemClockTimers, AreAsioTimers) {
  asio::io_context ioc;
  SystemClock clock;
  auto fires = clock.make_timer(ioc.get_executor());
  auto cancelled = clock.make_timer(ioc.get_executor());
  fires->expires_after(milliseconds(1));
  cancelled->expires_after(std::chrono::hours(1));
  std::optional<error_code> fired_with;
  std::optional<error_code> cancelled_with;
  asio::co_spawn(
      ioc, [&]() -> asio::awaitable<void> { fired_with = co_await wait(*fires); }, asio::detached);
  cancelled->async_wait([&](error_code ec) { cancelled_with = ec; });
  EXPECT_EQ(cancelled->cancel(), 1U);
  ioc.run();  // returns once both completed: nothing else is pending
  EXPECT_EQ(fired_with, error_code{});
  EXPECT_EQ(cancelled_with, asio::error::operation_aborted);
}

}  // namespace
}  // namespace galaxy
