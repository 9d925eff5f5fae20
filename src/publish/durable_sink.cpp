#include "galaxy/publish/durable_sink.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <csignal>

#include "galaxy/common/clock.hpp"
#include "galaxy/common/random.hpp"
#include "galaxy/common/redact.hpp"
#include "galaxy/contract/codec.hpp"
#include "galaxy/publish/pg_outbox.hpp"
#include "galaxy/publish/redis_stream.hpp"

namespace galaxy::publish {

using SteadyClock = std::chrono::steady_clock;

namespace {
std::int64_t micros_between(SteadyClock::time_point from, SteadyClock::time_point to) {
  return std::chrono::duration_cast<std::chrono::microseconds>(to - from).count();
}
std::int64_t micros_since(SteadyClock::time_point from) {
  return micros_between(from, SteadyClock::now());
}
}  // namespace

namespace {

std::string random_writer_id() {
  return fmt::format("{:016x}{:016x}", random_seed(), random_seed());
}

// hiredis 0.14 writes with write(), not send(MSG_NOSIGNAL): a write to a Redis that just died
// raises SIGPIPE, which would kill the daemon. Blocked in our own threads, it leaves write()
// returning EPIPE instead, whatever the process's disposition is.
void block_sigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Errors are logged at the first failure of a run and then at powers of two, so a service that
// stays down for hours does not flood the log.
bool worth_logging(unsigned attempt) {
  return (attempt & (attempt + 1)) == 0;
}

const SystemClock kSystemClock;

DurableBackends real_backends(const DurableSinkSettings& s, const RedisEndpoint& redis,
                              const pg::Target& pg) {
  DurableBackends b;
  b.outbox = [pg, io = s.io_timeout](const HostFence& fence) {
    return std::make_unique<PgOutbox>(pg, io, fence);
  };
  b.stream = [redis, st = StreamSettings{s.stream, s.stream_maxlen, s.connect_timeout, s.io_timeout,
                                         s.wait_replicas, s.wait_timeout}](const HostFence& fence) {
    return std::make_unique<RedisStream>(redis, st, fence);
  };
  return b;
}

}  // namespace

DurableSink::DurableSink(DurableSinkSettings settings)
    : DurableSink(std::move(settings), DurableBackends{}) {}

DurableSink::DurableSink(DurableSinkSettings settings, DurableBackends backends)
    : settings_(std::move(settings)),
      redis_(parse_redis_url(settings_.redis_url).value()),
      pg_(pg::parse_target(
              settings_.postgres_url,
              pg::ConnectSettings{.connect_timeout = std::chrono::ceil<std::chrono::seconds>(
                                      settings_.connect_timeout),
                                  .statement_timeout = settings_.statement_timeout})
              .value()),
      backends_(std::move(backends)),
      writer_id_(random_writer_id()),
      queue_(settings_.queue_capacity, settings_.max_batch),
      writer_backoff_(make_backoff()),
      relay_backoff_(make_backoff()) {
  const DurableBackends real = real_backends(settings_, redis_, pg_);
  if (!backends_.outbox) {
    backends_.outbox = real.outbox;
  }
  if (!backends_.stream) {
    backends_.stream = real.stream;
  }
  if (backends_.clock == nullptr) {
    backends_.clock = &kSystemClock;
  }
  writer_store_ = backends_.outbox(settings_.fence);
  relay_store_ = backends_.outbox(settings_.fence);
  stream_ = backends_.stream(settings_.fence);
}

DurableSink::~DurableSink() {
  stop(std::chrono::seconds(2));
}

std::chrono::steady_clock::time_point DurableSink::now() const {
  return backends_.clock != nullptr ? backends_.clock->steady() : SteadyClock::now();
}

void DurableSink::start() {
  std::lock_guard lock(mu_);
  if (started_ || stopping_) {
    return;
  }
  started_ = true;
  if (settings_.relay_only) {
    writer_done_ = true;
  } else {
    writer_ = std::thread([this] { run_writer(); });
  }
  relay_ = std::thread([this] { run_relay(); });
}

void DurableSink::apply(contract::Transition transition) {
  std::erase_if(transition.events, [this](const contract::Event& e) {
    if (auto ok = contract::check(e); !ok) {
      spdlog::error("durable sink: dropping an invalid event for game '{}': {}", e.game_id,
                    ok.error().message());
      std::lock_guard lock(mu_);
      ++stats_.dropped_events;
      return true;
    }
    return false;
  });
  const std::size_t events = transition.events.size();
  PushResult r = PushResult::dropped;
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && !fenced() && !settings_.relay_only) {
      r = queue_.push(std::move(transition));
    }
    if (r != PushResult::accepted) {
      stats_.dropped_events += events;
      ++stats_.dropped_transitions;
      stats_.overflowed = queue_.overflowed();
      if (r == PushResult::dropped_overflow_started) {
        ++stats_.overflow_episodes;
      }
    }
  }
  if (r == PushResult::accepted) {
    writer_cv_.notify_one();
  } else if (r == PushResult::dropped_overflow_started) {
    spdlog::warn(
        "durable sink: queue full ({} events); dropping transitions until PostgreSQL has taken "
        "what is queued, then the daemon resyncs",
        settings_.queue_capacity);
  }
}

void DurableSink::request_stop(std::chrono::milliseconds deadline) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      stop_deadline_ = now() + deadline;
    }
  }
  writer_cv_.notify_all();
  relay_cv_.notify_all();
  stop_cv_.notify_all();
}

void DurableSink::stop(std::chrono::milliseconds deadline) {
  request_stop(deadline);
  if (writer_.joinable()) {
    writer_.join();
  }
  if (relay_.joinable()) {
    relay_.join();
  }
  std::lock_guard lock(mu_);
  if (const std::size_t left = queue_.clear(); left > 0) {
    stats_.dropped_events += left;
    spdlog::warn("durable sink: stopped with {} event(s) not committed", left);
  }
}

DurableSinkStats DurableSink::stats() const {
  std::lock_guard lock(mu_);
  DurableSinkStats s = stats_;
  s.queued = queue_.queued_units();
  return s;
}

bool DurableSink::past_deadline() const {
  std::lock_guard lock(mu_);
  return stopping_ && now() >= stop_deadline_;
}

ExponentialBackoff DurableSink::make_backoff() {
  // Equal jitter: daemons on many hosts that lost the same PostgreSQL or Redis come back spread.
  return ExponentialBackoff::with_equal_jitter(
      settings_.backoff_min, settings_.backoff_max,
      backends_.random ? backends_.random : seeded_unit_random(random_seed()));
}

void DurableSink::backoff_wait(std::chrono::milliseconds delay) {
  const auto until = now() + delay;
  std::unique_lock lock(mu_);
  for (;;) {
    const auto limit = stopping_ ? std::min(until, stop_deadline_) : until;
    const auto left = limit - now();
    if (left <= SteadyClock::duration::zero()) {
      return;
    }
    stop_cv_.wait_for(lock, left);
  }
}

void DurableSink::mark_up(bool postgres, bool up) {
  std::lock_guard lock(mu_);
  (postgres ? stats_.postgres_up : stats_.redis_up) = up;
}

void DurableSink::record_error(const Error& e, bool writer) {
  const std::array<std::string, 1> secrets{redis_.password};
  std::string text = scrub(e.message(), secrets);
  std::lock_guard lock(mu_);
  ++(writer ? stats_.writer_errors : stats_.relay_errors);
  stats_.last_error = std::move(text);
}

Result<std::vector<contract::StateRecord>> DurableSink::load_state(
    std::chrono::milliseconds deadline) {
  const auto until = now() + deadline;
  const auto store = backends_.outbox(settings_.fence);
  auto backoff = make_backoff();
  for (;;) {
    auto r = store->connect();
    if (r) {
      auto records = store->load_state();
      if (records) {
        seed_stream_mark(*store);
        return records;
      }
      r = records.error();
    }
    record_error(r.error(), true);
    spdlog::error("durable sink: loading state from PostgreSQL ({}): {}; retrying", pg_.describe,
                  stats().last_error);
    const auto d = backoff.next();
    if (now() + d >= until) {
      return r.error();
    }
    std::unique_lock lock(mu_);
    if (stop_cv_.wait_for(lock, d, [this] { return stopping_; })) {
      return r.error();
    }
  }
}

void DurableSink::fence_off(const Error& e) {
  record_error(e, true);
  if (fenced_.exchange(true)) {
    return;
  }
  {
    std::lock_guard lock(mu_);
    stats_.fenced = true;
  }
  spdlog::warn("durable sink: {}: another daemon holds host {}'s lease; writing nothing more",
               stats().last_error, settings_.fence.host_id);
  writer_cv_.notify_all();
  relay_cv_.notify_all();
  stop_cv_.notify_all();
  if (settings_.on_fenced) {
    settings_.on_fenced(settings_.fence.epoch);
  }
}

DurableSink::Step DurableSink::writer_step() {
  if (fenced()) {
    // What is held here the new active daemon observes for itself (it resumes from the stored
    // cursor), so dropping it loses nothing.
    std::lock_guard lock(mu_);
    const std::size_t left = queue_.clear() + (batch_ ? batch_->events.size() : 0);
    stats_.dropped_events += left;
    batch_.reset();
    writer_done_ = true;
    return {Next::done};
  }
  if (!batch_) {
    std::lock_guard lock(mu_);
    batch_ = queue_.take();
    if (!batch_) {
      if (stopping_) {
        writer_done_ = true;  // stopping, nothing left
        return {Next::done};
      }
      return {Next::wait_work};
    }
  }
  if (past_deadline()) {
    std::lock_guard lock(mu_);
    stats_.dropped_events += batch_->events.size();
    spdlog::warn("durable sink: stop deadline passed with {} event(s) not committed",
                 batch_->events.size() + queue_.queued_units());
    batch_.reset();
    writer_done_ = true;
    return {Next::done};
  }
  Result<void> r;
  if (!writer_store_->connected()) {
    r = writer_store_->connect();
    if (r) {
      spdlog::info("durable sink: writer connected to PostgreSQL ({})", pg_.describe);
      // A new connection may be to a promoted standby: no seq the relay has seen in the stream
      // is handed out again (see guard_seq).
      std::int64_t mark = 0;
      {
        std::lock_guard lock(mu_);
        mark = stream_mark_;
      }
      if (mark > 0) {
        r = raise_seq(*writer_store_, mark);
      }
    }
  }
  const auto commit_start = SteadyClock::now();
  if (r) {
    r = writer_store_->commit(*batch_, writer_id_);
  }
  // Where an event's time goes between the daemon and the stream (with --log-level trace).
  spdlog::trace("durable sink: commit of {} event(s): {} us", batch_->events.size(),
                micros_since(commit_start));
  if (!r && is_fenced(r.error())) {
    fence_off(r.error());
    return {Next::again};
  }
  if (!r) {
    // Reconnecting is always safe: a batch whose COMMIT reply was lost is recognised.
    writer_store_->disconnect();
    mark_up(true, false);
    record_error(r.error(), true);
    if (worth_logging(writer_backoff_.attempt())) {
      spdlog::error("durable sink: writer: {}; retrying (attempt {})", stats().last_error,
                    writer_backoff_.attempt() + 1);
    }
    return {Next::backoff, writer_backoff_.next()};
  }
  writer_backoff_.reset();
  mark_up(true, true);
  bool episode_ended = false;
  {
    std::lock_guard lock(mu_);
    ++stats_.batches;
    stats_.events_committed += batch_->events.size();
    episode_ended = queue_.done();
    stats_.overflowed = queue_.overflowed();
    ++commits_;
  }
  batch_.reset();
  relay_cv_.notify_all();
  if (episode_ended) {
    resync_.store(true);
    spdlog::warn("durable sink: overflow episode over; the daemon must resync");
    if (settings_.on_resync_needed) {
      settings_.on_resync_needed();
    }
  }
  return {Next::again};
}

// What both threads do: take steps, and wait where a step says so.
void DurableSink::run(Step (DurableSink::*step)(), void (DurableSink::*wait_work)()) {
  block_sigpipe();
  for (;;) {
    const Step s = (this->*step)();
    if (s.next == Next::done) {
      return;
    }
    if (s.next == Next::wait_work) {
      (this->*wait_work)();
    } else if (s.next == Next::backoff) {
      backoff_wait(s.delay);
    }
  }
}

void DurableSink::wait_for_transitions() {
  std::unique_lock lock(mu_);
  writer_cv_.wait(lock,
                  [this] { return stopping_ || fenced() || queue_.queued_transitions() > 0; });
}

// A commit wakes the relay at once; relay_poll also finds rows another daemon left behind.
void DurableSink::wait_for_commits() {
  std::unique_lock lock(mu_);
  relay_cv_.wait_for(lock, settings_.relay_poll, [this] {
    return commits_ != relay_seen_ || fenced() || (stopping_ && writer_done_);
  });
}

void DurableSink::run_writer() {
  run(&DurableSink::writer_step, &DurableSink::wait_for_transitions);
  {
    std::lock_guard lock(mu_);
    writer_done_ = true;
  }
  relay_cv_.notify_all();
}

DurableSink::Step DurableSink::relay_fail(const Error& e) {
  if (is_fenced(e)) {
    fence_off(e);
    return {Next::done};
  }
  record_error(e, false);
  if (worth_logging(relay_backoff_.attempt())) {
    spdlog::error("durable sink: relay: {}; retrying (attempt {})", stats().last_error,
                  relay_backoff_.attempt() + 1);
  }
  return {Next::backoff, relay_backoff_.next()};
}

// The first relay of a host that adopted rows from before the fleet migration raises the host's
// Redis high-water mark to the old database-wide one before relaying any of them: some may be in
// the stream already (added, not yet confirmed when the old daemon stopped).
Result<void> DurableSink::adopt_legacy() {
  auto legacy = relay_store_->legacy_seq();
  if (!legacy) {
    return legacy.error();
  }
  if (!*legacy) {
    return {};
  }
  auto mark = stream_->adopt_legacy_hwm(database_id_);
  if (!mark) {
    return mark.error();
  }
  if (auto d = relay_store_->legacy_done(); !d) {
    return d.error();
  }
  spdlog::info(
      "durable sink: adopted the pre-fleet outbox (rows up to seq {}); host {}'s Redis "
      "high-water mark is {}",
      **legacy, settings_.fence.host_id, *mark);
  return {};
}

// A database that went back in time (an asynchronous standby promoted: commits it had
// acknowledged are gone, and with them the seqs they took) would hand out seqs the stream's mark
// already covers, and the script would skip those events as replays. The counter is raised past
// the mark first; what the lost commits held is gone, and the log says so.
Result<void> DurableSink::guard_seq() {
  auto mark = stream_->high_water(database_id_);
  if (!mark) {
    return mark.error();
  }
  note_stream_mark(*mark);
  if (*mark <= 0) {
    return {};
  }
  return raise_seq(*relay_store_, *mark);
}

// Before the writer's first commit: the stream's mark read once, so a database that went back in
// time while this daemon was down hands out no seq the stream holds. Best effort: with Redis
// unreachable the relay does it when it connects (and the writer after that).
void DurableSink::seed_stream_mark(OutboxStore& store) {
  const auto stream = backends_.stream(settings_.fence);
  auto r = stream->connect();
  auto id = r ? store.database_id() : Result<std::string>(r.error());
  auto mark = id ? stream->high_water(*id) : Result<std::int64_t>(id.error());
  if (mark) {
    note_stream_mark(*mark);
    if (auto raised = *mark > 0 ? raise_seq(store, *mark) : Result<void>{}; !raised) {
      mark = raised.error();
    }
  }
  if (!mark) {
    spdlog::warn(
        "durable sink: could not compare PostgreSQL's seq with the stream's mark at "
        "start ({}); the relay does when it connects",
        mark.error().message());
  }
}

void DurableSink::note_stream_mark(std::int64_t seq) {
  std::lock_guard lock(mu_);
  stream_mark_ = std::max(stream_mark_, seq);
}

Result<void> DurableSink::raise_seq(OutboxStore& store, std::int64_t mark) {
  auto before = store.seq_at_least(mark);
  if (!before) {
    return before.error();
  }
  if (*before < mark) {
    {
      std::lock_guard lock(mu_);
      ++stats_.seq_rewinds;
    }
    spdlog::error(
        "durable sink: host {}'s last seq in PostgreSQL is {} but the stream already holds seq {} "
        "of this database: PostgreSQL lost commits it had acknowledged (an asynchronous standby "
        "promoted?). Events committed after seq {} that had not reached the stream are lost, "
        "and snapshots may lag until each game's next event; new events continue after seq {}",
        settings_.fence.host_id, *before, mark, mark, mark);
  }
  return {};
}

DurableSink::Step DurableSink::relay_step() {
  if (past_deadline() || fenced()) {
    return {Next::done};
  }
  OutboxStore& pg = *relay_store_;
  const bool fresh_pg = !pg.connected();
  if (fresh_pg) {
    auto c = pg.connect();
    if (c) {
      auto id = pg.database_id();
      if (id) {
        database_id_ = *id;
      } else {
        c = id.error();
      }
    }
    if (!c) {
      pg.disconnect();
      mark_up(true, false);
      return relay_fail(c.error());
    }
  }
  const bool fresh_redis = !stream_->connected();
  if (fresh_redis) {
    if (auto c = stream_->connect(); !c) {
      mark_up(false, false);
      return relay_fail(c.error());
    }
    mark_up(false, true);
    spdlog::info("durable sink: relay connected to {}", redis_.redacted());
  }
  if (fresh_pg || fresh_redis) {
    if (auto a = adopt_legacy(); !a) {
      pg.disconnect();
      stream_->disconnect();
      return relay_fail(a.error());
    }
    if (auto a = guard_seq(); !a) {
      pg.disconnect();
      stream_->disconnect();
      return relay_fail(a.error());
    }
  }
  std::uint64_t seen = 0;
  {
    std::lock_guard lock(mu_);
    seen = commits_;
  }
  const auto fetch_start = SteadyClock::now();
  auto rows = pg.fetch(settings_.relay_batch);
  if (!rows) {
    pg.disconnect();
    mark_up(true, false);
    return relay_fail(rows.error());
  }
  mark_up(true, true);
  if (rows->empty()) {
    relay_backoff_.reset();
    std::lock_guard lock(mu_);
    if (stopping_ && writer_done_) {
      return {Next::done};
    }
    relay_seen_ = seen;
    return {Next::wait_work};
  }
  std::vector<XaddItem> items;
  std::vector<RelayedRow> relayed;
  items.reserve(rows->size());
  relayed.reserve(rows->size());
  for (auto& row : *rows) {
    auto ev = contract::decode_payload(row.payload);
    if (!ev) {
      // Only our own codec writes the outbox; a row it cannot read is logged and skipped
      // rather than blocking every event behind it.
      spdlog::error("durable sink: outbox row {} is not a valid payload ({}); skipped", row.seq,
                    ev.error().message());
      record_error(ev.error(), false);
      continue;
    }
    items.push_back({row.seq, contract::encode_entry(*ev)});
    relayed.push_back({row.seq, std::move(*ev), {}});
  }
  const auto xadd_start = SteadyClock::now();
  auto added = stream_->publish(database_id_, confirmed_, items);
  if (!added && is_wait_shortfall(added.error())) {
    // Redis is up and has the batch; its replicas do not yet. The rows stay and go again (the
    // script adds none twice) until the replicas, or a new master's, have them.
    {
      std::lock_guard lock(mu_);
      ++stats_.wait_shortfalls;
    }
    return relay_fail(added.error());
  }
  if (!added) {
    if (!is_fenced(added.error())) {
      stream_->disconnect();
      mark_up(false, false);
    }
    return relay_fail(added.error());
  }
  if (added->size() != relayed.size()) {
    stream_->disconnect();
    return relay_fail(
        make_error(ErrorKind::protocol, "redis",
                   fmt::format("{} items sent, {} results", relayed.size(), added->size())));
  }
  if (!added->empty()) {
    note_stream_mark(added->back().seq);
  }
  std::uint64_t fresh = 0;
  for (std::size_t i = 0; i < added->size(); ++i) {
    relayed[i].stream_id = (*added)[i].id;
    fresh += (*added)[i].added ? 1 : 0;
  }
  const std::int64_t through = rows->back().seq;
  const auto confirm_start = SteadyClock::now();
  if (auto c = pg.confirm(relayed, through); !c) {
    if (!is_fenced(c.error())) {
      pg.disconnect();
      mark_up(true, false);
    }
    return relay_fail(c.error());
  }
  spdlog::trace("durable sink: relay of {} event(s): fetch {} us, xadd {} us, confirm {} us",
                rows->size(), micros_between(fetch_start, xadd_start),
                micros_between(xadd_start, confirm_start), micros_since(confirm_start));
  confirmed_ = through;
  relay_backoff_.reset();
  std::lock_guard lock(mu_);
  stats_.events_relayed += fresh;
  stats_.replays_skipped += added->size() - fresh;
  return {Next::again};
}

void DurableSink::run_relay() {
  run(&DurableSink::relay_step, &DurableSink::wait_for_commits);
}

}  // namespace galaxy::publish
