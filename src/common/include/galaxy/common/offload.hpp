// Running blocking work (libpq, hiredis) off a coroutine's loop: the work runs on a thread pool
// and the coroutine resumes on its own executor with the result.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <type_traits>
#include <utility>

namespace galaxy {

// co_await offload(pool, executor, work): work() on the pool, its result in an optional (an
// awaitable's value must be default-constructible; Result is not), always engaged. `work` is
// taken by reference and must outlive the await: pass a named lambda, since GCC 12 destroys a
// temporary made in a co_await'ed call twice.
template <class F>
auto offload(boost::asio::thread_pool& pool, const boost::asio::any_io_executor& back, F& work) {
  namespace asio = boost::asio;
  using R = std::invoke_result_t<F&>;
  return asio::async_initiate<const asio::use_awaitable_t<>, void(std::optional<R>)>(
      [&pool, back, &work](auto handler) {
        auto resume_on = asio::get_associated_executor(handler, back);
        asio::post(pool, [&work, handler = std::move(handler), resume_on]() mutable {
          std::optional<R> r(work());
          asio::post(resume_on, [handler = std::move(handler), r = std::move(r)]() mutable {
            std::move(handler)(std::move(r));
          });
        });
      },
      asio::use_awaitable);
}

}  // namespace galaxy
