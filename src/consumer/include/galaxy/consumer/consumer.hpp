// A Redis Streams consumer-group member that hands each health event to a handler.
//
// Delivery is at least once: an entry is acknowledged (XACK) only after the handler returned true,
// so after a crash, a lost connection or a failed handler the same entry is delivered again (to
// this consumer or, once idle longer than claim_idle, to another one). Handlers must therefore be
// idempotent; the entry ID (Delivery::id) is the dedupe key — it is unique per entry and the same
// on every redelivery.
//
// Entries that break the contract, and entries delivered more than max_deliveries times, are
// copied to the dead-letter stream (entry_id, reason, consumer, orig.<field>...) and acknowledged
// in one MULTI/EXEC, so the group goes on and nothing is dropped silently.
//
// Threading: run() blocks the calling thread and uses one Redis connection of its own; the
// handler runs on that thread. stop() and stats() may be called from any thread (not from a
// signal handler). One Consumer per thread; several Consumers may run in one process.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/common/backoff.hpp"
#include "galaxy/common/clock.hpp"
#include "galaxy/consumer/options.hpp"
#include "galaxy/contract/event.hpp"
#include "galaxy/redis/connection.hpp"
#include "galaxy/redis/stream_reply.hpp"

namespace spdlog {
class logger;
}

namespace galaxy::consumer {

struct Delivery {
  std::string_view id;  // the entry ID: the dedupe key
  const contract::Event& event;
  std::int64_t delivery_count = 1;  // 1 on the first delivery
};

// Returns true when the event is done with (it is then acknowledged). false or an exception
// leaves the entry pending, to be delivered again after claim_idle (or after a restart).
using Handler = std::function<bool(const Delivery&)>;

struct ConsumerStats {
  std::uint64_t handled = 0;           // handler returned true
  std::uint64_t handler_failures = 0;  // handler returned false or threw
  std::uint64_t acked = 0;             // entries acknowledged after handling
  std::uint64_t dead_lettered = 0;     // contract violations and delivery-limit overruns
  std::uint64_t deleted = 0;           // pending entries trimmed from the stream, acknowledged
  std::uint64_t claimed = 0;           // entries taken over by XAUTOCLAIM
  std::uint64_t reconnects = 0;        // connections lost (or never made) and retried
};

class Consumer {
 public:
  // Throws ErrorException when the options are invalid (see resolve()). Does no I/O. The clock
  // schedules claims and ack flushes; the logger (may be null: silent) gets connection losses,
  // dead letters and handler exceptions, never a password.
  Consumer(ConsumerOptions options, Handler handler, const Clock& clock,
           std::shared_ptr<spdlog::logger> logger = nullptr);
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;
  ~Consumer();

  // Creates the group if it does not exist (XGROUP CREATE ... MKSTREAM; BUSYGROUP is success).
  // run() does this itself; this is for callers that want the group before producing.
  // Not thread-safe with run(). Returns Error{"redis", reason} on I/O or server errors.
  Result<void> ensure_group();

  // Consumes until stop(): first this consumer's own pending entries (so a restarted consumer
  // resumes them), then new ones, claiming idle entries every claim_interval. Connection losses
  // are retried forever with jittered backoff; entries handled but not yet acknowledged when the
  // connection dropped are acknowledged after reconnecting, not handed to the handler again.
  // Returns after stop(): the current handler finishes and its entry is acknowledged; an entry
  // read but not yet handled stays pending for this consumer (nobody else gets it until it idles
  // past claim_idle and another member claims it, or this consumer restarts). Returns within
  // max(block, command_timeout) + the handler's own time. With options.limit, also returns once
  // the handler was called that many times; reads never fetch past the limit, so such a return
  // leaves no unhandled entry pending. Call from one thread at a time.
  void run();

  // Asks run() to return. Thread-safe, idempotent, non-blocking. May be called from the handler.
  void stop();
  bool stopping() const { return stop_.load(std::memory_order_acquire); }

  // A snapshot of the counters. Thread-safe.
  ConsumerStats stats() const;

  const ConsumerOptions& options() const { return options_.options; }

 private:
  enum class Phase : std::uint8_t { own_pending, fresh };
  struct Counters {
    std::atomic<std::uint64_t> handled{0}, handler_failures{0}, acked{0}, dead_lettered{0},
        deleted{0}, claimed{0}, reconnects{0};
  };

  Result<void> connect();
  Result<void> step();
  Result<void> read_own_pending();
  Result<void> read_fresh();
  Result<void> claim_idle_entries();
  Result<void> handle_batch(std::vector<redis::StreamEntry>& entries, bool fresh);
  Result<void> dead_letter(const redis::StreamEntry& entry, std::string_view reason);
  Result<void> flush_acks();
  Result<redis::ReplyPtr> group_command(
      const std::vector<std::string>& argv,
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<std::vector<redis::StreamEntry>> read_group(
      const std::vector<std::string>& argv,
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<redis::ReplyPtr> checked(Result<redis::ReplyPtr> reply, std::string_view what);
  // Entries the next read may fetch: options.count, or fewer so handler calls stay within limit.
  std::size_t read_count() const;
  bool limit_reached() const;
  void wait_for(std::chrono::milliseconds delay);

  ResolvedOptions options_;
  Handler handler_;
  const Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;

  std::optional<redis::Connection> conn_;
  Phase phase_ = Phase::own_pending;
  std::string pending_cursor_ = "0";
  std::chrono::steady_clock::time_point next_claim_{};
  // Handled entries whose XACK has not been confirmed; kept across reconnects.
  std::vector<std::string> to_ack_;
  std::optional<std::chrono::steady_clock::time_point> oldest_unacked_;
  // Reconnect delays; equal jitter, so a fleet of consumers that lost the same Redis does not
  // reconnect in lockstep.
  ExponentialBackoff backoff_;
  std::uint64_t handler_calls_ = 0;

  std::atomic<bool> stop_{false};
  std::mutex wait_mutex_;
  std::condition_variable wait_cv_;
  Counters counters_;
};

}  // namespace galaxy::consumer
