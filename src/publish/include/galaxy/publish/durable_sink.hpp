// The durable sink: every event to the Redis Stream and to PostgreSQL's health_snapshots,
// exactly once, through Redis, PostgreSQL and daemon failures (docs/delivery.md).
//
//   apply() ──> TransitionQueue ──> writer thread ──(one PG transaction per batch)──> health_outbox
//                (bounded)                                                            runtime_state
//   relay thread: health_outbox ──(EVALSHA, idempotent)──> Redis Stream
//                               ──(one PG transaction)──> health_snapshots, outbox rows deleted
//
// Both threads own their connections (libpq and hiredis are blocking libraries; a thread each
// keeps the daemon's loop free and costs nothing measurable against the I/O) and retry failures
// with capped, equally jittered backoff; nothing is lost while PostgreSQL is down until the queue
// overflows (then needs_resync()), and nothing while Redis is down (the outbox holds it).
//
// The threads only wait; what they do is writer_step() and relay_step(), over the OutboxStore and
// StreamAppender seams (backends.hpp) and the Clock, so the rules are unit-tested with fakes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "galaxy/common/backoff.hpp"
#include "galaxy/common/redis_url.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/contract/sink.hpp"
#include "galaxy/pg/target.hpp"
#include "galaxy/publish/backends.hpp"
#include "galaxy/publish/transition_queue.hpp"

namespace galaxy::publish {

struct DurableSinkSettings {
  // Any URL parse_redis_url takes (single server, unix socket, Sentinel, Cluster).
  std::string redis_url = "redis://127.0.0.1:6379";
  std::string postgres_url = "postgresql:///galaxy";  // a libpq URI or conninfo string
  std::string stream = "runtime:health_events";
  std::size_t stream_maxlen = 1'000'000;  // XADD MAXLEN ~
  // WAIT for this many replicas after each batch of XADDs; rows are confirmed only once they
  // have it (see StreamSettings).
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{1'000};
  std::size_t queue_capacity = 100'000;  // events (see TransitionQueue)
  std::size_t max_batch = 2'000;         // events per writer transaction
  std::size_t relay_batch = 2'000;       // outbox rows per relay round
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds io_timeout{5'000};
  std::chrono::milliseconds statement_timeout{10'000};
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{10'000};
  // The relay looks at the outbox this often even when the writer did not wake it (rows another
  // daemon left behind; rows written before a relay failure).
  std::chrono::milliseconds relay_poll{1'000};
  // Called (on the writer thread) when an overflow episode has ended and the daemon must reload
  // its state and resync; the daemon posts to its loop from here.
  std::function<void()> on_resync_needed;
  // The host whose events these are and the lease epoch its daemon holds (the daemon sets it
  // when it takes the lease; a sink lives for one lease). Every write carries it.
  HostFence fence;
  // Called once (on the writer's or the relay's thread) when PostgreSQL or Redis refused a write
  // at fence.epoch: another daemon holds the host's lease. From then on the sink writes nothing
  // and drops what it is given; the daemon steps down.
  std::function<void(std::int64_t epoch)> on_fenced;
  // Only the relay runs (apply() drops): for a daemon that relays the rows a host gone for good
  // left behind (Adopter).
  bool relay_only = false;
};

struct DurableSinkStats {
  std::uint64_t queued = 0;  // events waiting in memory now
  std::uint64_t batches = 0;
  std::uint64_t events_committed = 0;
  std::uint64_t events_relayed = 0;  // added to the stream (replays not counted)
  std::uint64_t replays_skipped = 0;
  std::uint64_t overflow_episodes = 0;
  std::uint64_t dropped_events = 0;
  std::uint64_t dropped_transitions = 0;
  std::uint64_t writer_errors = 0;
  std::uint64_t relay_errors = 0;
  // Batches the replicas did not acknowledge within the WAIT timeout (sent again).
  std::uint64_t wait_shortfalls = 0;
  // Times PostgreSQL's seq counter was found behind the stream's mark and raised past it (the
  // database lost acknowledged commits: docs/failover.md).
  std::uint64_t seq_rewinds = 0;
  bool overflowed = false;
  bool fenced = false;  // a write was refused: the lease is another daemon's
  // Whether the last call to each answered (false until the first does).
  bool postgres_up = false;
  bool redis_up = false;
  std::string last_error;  // redacted
};

class DurableSink final : public contract::TransitionSink {
 public:
  // Throws ErrorException on a malformed URL (configuration); connects lazily in its threads, so
  // an unreachable service at start is retried, not fatal. Built on PgOutbox, RedisStream and the
  // system clock.
  explicit DurableSink(DurableSinkSettings settings);
  // The same rules on other backends (unit tests: fakes and a manual clock).
  DurableSink(DurableSinkSettings settings, DurableBackends backends);
  ~DurableSink() override;
  DurableSink(const DurableSink&) = delete;
  DurableSink& operator=(const DurableSink&) = delete;

  // Loads the sources' memory (runtime_state), applying the migrations first; retries until
  // `deadline` passes. Call before the sources start.
  Result<std::vector<contract::StateRecord>> load_state(std::chrono::milliseconds deadline);

  // Starts the writer and relay threads. Idempotent.
  void start();
  void apply(contract::Transition transition) override;
  // Commits and relays what it can within `deadline`, then stops both threads (a call in flight
  // may add up to one io_timeout). What is still queued in memory is dropped and counted; what
  // is committed stays in the outbox for the next start. Idempotent.
  void stop(std::chrono::milliseconds deadline);
  // The first half of stop(): from now on the writer and the relay finish what they hold within
  // `deadline` and then end. Does not wait.
  void request_stop(std::chrono::milliseconds deadline);

  DurableSinkStats stats() const;
  // True from the end of an overflow episode until resync_done(): transitions were dropped, so
  // the daemon must reload state from PostgreSQL and resync from Docker.
  bool needs_resync() const { return resync_.load(); }
  void resync_done() { resync_.store(false); }

  // One step of the writer or the relay: what the threads loop on, and what unit tests call on
  // their own thread instead of start(). Never blocks except in the backends' calls (each bounded
  // by io_timeout). Each must be called from one thread at a time, and not alongside start().
  enum class Next : std::uint8_t {
    again,      // call again at once
    wait_work,  // nothing to do: wait for a commit (relay) or a transition (writer)
    backoff,    // a call failed: wait `delay`, then call again
    done,       // stopping, and nothing more will be done
  };
  struct Step {
    Next next = Next::again;
    std::chrono::milliseconds delay{0};
  };
  Step writer_step();
  Step relay_step();

 private:
  void run_writer();
  void run_relay();
  void run(Step (DurableSink::*step)(), void (DurableSink::*wait_work)());
  void wait_for_transitions();
  void wait_for_commits();
  void record_error(const Error& e, bool writer);
  void mark_up(bool postgres, bool up);
  // Each retry loop (writer, relay, load_state) has its own backoff, on its own thread.
  ExponentialBackoff make_backoff();
  // Waits `delay` unless stopping, and no longer than the stop deadline.
  void backoff_wait(std::chrono::milliseconds delay);
  std::chrono::steady_clock::time_point now() const;
  bool past_deadline() const;
  Step relay_fail(const Error& e);
  // A write was refused at our epoch: stop writing, drop what is held, tell the daemon (once).
  void fence_off(const Error& e);
  bool fenced() const { return fenced_.load(); }
  // Upgrade: carries the pre-fleet Redis high-water mark over to this host's, once.
  Result<void> adopt_legacy();
  Result<void> guard_seq();
  void note_stream_mark(std::int64_t seq);
  void seed_stream_mark(OutboxStore& store);
  Result<void> raise_seq(OutboxStore& store, std::int64_t mark);

  DurableSinkSettings settings_;
  RedisEndpoint redis_;
  pg::Target pg_;
  DurableBackends backends_;
  std::string writer_id_;

  mutable std::mutex mu_;
  std::condition_variable writer_cv_;
  std::condition_variable relay_cv_;
  std::condition_variable stop_cv_;
  TransitionQueue queue_;
  DurableSinkStats stats_;
  std::uint64_t commits_ = 0;  // generation the relay waits on
  bool started_ = false;
  bool stopping_ = false;
  bool writer_done_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  std::atomic<bool> resync_{false};
  std::atomic<bool> fenced_{false};

  // The writer's state between steps (its thread's only).
  std::unique_ptr<OutboxStore> writer_store_;
  std::optional<Batch> batch_;
  ExponentialBackoff writer_backoff_;
  // The relay's (its thread's only).
  std::unique_ptr<OutboxStore> relay_store_;
  std::unique_ptr<StreamAppender> stream_;
  ExponentialBackoff relay_backoff_;
  std::string database_id_;
  std::int64_t confirmed_ = 0;
  std::uint64_t relay_seen_ = 0;  // commits_ when the relay last found the outbox empty
  // The highest seq of this host the relay has seen in the stream (guarded by mu_): a writer on a
  // new connection raises the database's counter past it before committing.
  std::int64_t stream_mark_ = 0;

  std::thread writer_;
  std::thread relay_;
};

}  // namespace galaxy::publish
