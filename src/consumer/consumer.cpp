#include "galaxy/consumer/consumer.hpp"

#include <fmt/format.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <unordered_map>

#include "galaxy/common/random.hpp"
#include "galaxy/consumer/dead_letter.hpp"
#include "galaxy/contract/codec.hpp"

namespace galaxy::consumer {

namespace {

std::string ms_arg(std::chrono::milliseconds d) {
  return std::to_string(d.count());
}

}  // namespace

Consumer::Consumer(ConsumerOptions options, Handler handler, const Clock& clock,
                   std::shared_ptr<spdlog::logger> logger)
    : options_(resolve(std::move(options)).value()),
      handler_(std::move(handler)),
      clock_(clock),
      log_(logger ? std::move(logger) : std::make_shared<spdlog::logger>("galaxy-consumer")),
      backoff_(ExponentialBackoff::with_equal_jitter(options_.options.reconnect_min,
                                                     options_.options.reconnect_max,
                                                     seeded_unit_random(random_seed()))) {
  if (!handler_) {
    throw ErrorException(make_error("handler", "must be set"));
  }
}

Consumer::~Consumer() = default;

void Consumer::stop() {
  stop_.store(true, std::memory_order_release);
  {
    // Taking the lock orders the store before a waiter's predicate check, so no wakeup is lost.
    const std::lock_guard lock(wait_mutex_);
  }
  wait_cv_.notify_all();
}

ConsumerStats Consumer::stats() const {
  ConsumerStats s;
  s.handled = counters_.handled.load();
  s.handler_failures = counters_.handler_failures.load();
  s.acked = counters_.acked.load();
  s.dead_lettered = counters_.dead_lettered.load();
  s.deleted = counters_.deleted.load();
  s.claimed = counters_.claimed.load();
  s.reconnects = counters_.reconnects.load();
  return s;
}

void Consumer::wait_for(std::chrono::milliseconds delay) {
  std::unique_lock lock(wait_mutex_);
  wait_cv_.wait_for(lock, delay, [this] { return stopping(); });
}

Result<redis::ReplyPtr> Consumer::checked(Result<redis::ReplyPtr> reply, std::string_view what) {
  if (!reply) {
    return reply.error();
  }
  if (redis::is_error(reply->get())) {
    return redis::server_error(fmt::format("{} on {}", what, options_.options.stream),
                               reply->get());
  }
  return reply;
}

Result<void> Consumer::ensure_group() {
  if (!conn_ || conn_->broken()) {
    auto c = redis::Connection::open(options_.endpoint, options_.options.connect_timeout,
                                     options_.options.command_timeout, options_.options.stream);
    if (!c) {
      return c.error();
    }
    conn_ = std::move(*c);
  }
  const auto& o = options_.options;
  auto reply = conn_->command({"XGROUP", "CREATE", o.stream, o.group, o.start_id, "MKSTREAM"});
  if (!reply) {
    return reply.error();
  }
  if (redis::is_error(reply->get()) && !redis::is_error_code(reply->get(), "BUSYGROUP")) {
    return redis::server_error(fmt::format("XGROUP CREATE {} {}", o.stream, o.group), reply->get());
  }
  return {};
}

Result<void> Consumer::connect() {
  if (auto r = ensure_group(); !r) {
    return r;
  }
  // A (re)started consumer first goes through its own pending entries: they were delivered to
  // it before and nobody else will see them until they idle past claim_idle.
  phase_ = Phase::own_pending;
  pending_cursor_ = "0";
  return flush_acks();
}

std::size_t Consumer::read_count() const {
  const auto& o = options_.options;
  if (o.limit == 0) {
    return o.count;
  }
  return static_cast<std::size_t>(std::min<std::uint64_t>(o.count, o.limit - handler_calls_));
}

bool Consumer::limit_reached() const {
  return options_.options.limit != 0 && handler_calls_ >= options_.options.limit;
}

void Consumer::run() {
  while (!stopping() && !limit_reached()) {
    if (!conn_ || conn_->broken()) {
      if (auto r = connect(); !r) {
        counters_.reconnects.fetch_add(1);
        log_->warn("consumer {}: {}; retrying", options_.options.consumer, r.error().reason);
        conn_.reset();
        wait_for(backoff_.next());
        continue;
      }
    }
    if (auto r = step(); !r) {
      log_->warn("consumer {}: {}", options_.options.consumer, r.error().reason);
      if (conn_->broken()) {
        counters_.reconnects.fetch_add(1);
        conn_.reset();
      }
      wait_for(backoff_.next());
      continue;
    }
    backoff_.reset();
  }
  if (conn_ && !conn_->broken()) {
    if (auto r = flush_acks(); !r) {
      log_->warn("consumer {}: final ack: {}", options_.options.consumer, r.error().reason);
    }
  }
}

Result<void> Consumer::step() {
  if (phase_ == Phase::own_pending) {
    return read_own_pending();
  }
  const auto now = clock_.steady();
  if (now >= next_claim_) {
    next_claim_ = now + options_.options.claim_interval;
    return claim_idle_entries();
  }
  return read_fresh();
}

Result<redis::ReplyPtr> Consumer::group_command(const std::vector<std::string>& argv,
                                                std::optional<std::chrono::milliseconds> timeout) {
  auto reply = conn_->command(argv, timeout);
  if (reply && redis::is_error_code(reply->get(), "NOGROUP")) {
    // The stream or the group was deleted under us: recreate it and let the caller go round.
    if (auto r = ensure_group(); !r) {
      return r.error();
    }
    return redis::ReplyPtr{};
  }
  return checked(std::move(reply), argv.front());
}

Result<std::vector<redis::StreamEntry>> Consumer::read_group(
    const std::vector<std::string>& argv, std::optional<std::chrono::milliseconds> timeout) {
  auto reply = group_command(argv, timeout);
  if (!reply) {
    return reply.error();
  }
  return redis::parse_read_reply(reply->get());
}

Result<void> Consumer::read_own_pending() {
  const auto& o = options_.options;
  auto entries = read_group({"XREADGROUP", "GROUP", o.group, o.consumer, "COUNT",
                             std::to_string(read_count()), "STREAMS", o.stream, pending_cursor_});
  if (!entries) {
    return entries.error();
  }
  if (entries->empty()) {
    phase_ = Phase::fresh;
    next_claim_ = clock_.steady();
    return {};
  }
  pending_cursor_ = entries->back().id;
  return handle_batch(*entries, false);
}

Result<void> Consumer::read_fresh() {
  const auto& o = options_.options;
  // Wake up in time for the next claim round.
  const auto until_claim =
      std::chrono::duration_cast<std::chrono::milliseconds>(next_claim_ - clock_.steady());
  const auto block = std::clamp(until_claim, std::chrono::milliseconds(1), o.block);
  auto entries =
      read_group({"XREADGROUP", "GROUP", o.group, o.consumer, "COUNT", std::to_string(read_count()),
                  "BLOCK", ms_arg(block), "STREAMS", o.stream, ">"},
                 block + o.command_timeout);
  if (!entries) {
    return entries.error();
  }
  return handle_batch(*entries, true);
}

Result<void> Consumer::claim_idle_entries() {
  const auto& o = options_.options;
  std::string start = "0-0";
  // Bounded so a huge backlog of idle entries cannot starve new ones; the rest waits a round.
  for (int round = 0; round < 16 && !stopping() && !limit_reached(); ++round) {
    // A claimed entry is delivered to us: claim no more than the limit lets us hand over.
    auto reply = group_command({"XAUTOCLAIM", o.stream, o.group, o.consumer, ms_arg(o.claim_idle),
                                start, "COUNT", std::to_string(read_count())});
    if (!reply) {
      return reply.error();
    }
    if (!*reply) {
      return {};
    }
    auto claim = redis::parse_autoclaim_reply(reply->get());
    if (!claim) {
      return claim.error();
    }
    if (!claim->deleted.empty()) {
      // Redis 7 already dropped these from the PEL; the XACK makes that explicit on any version.
      std::vector<std::string> ack = {"XACK", o.stream, o.group};
      ack.insert(ack.end(), claim->deleted.begin(), claim->deleted.end());
      if (auto r = checked(conn_->command(ack), "XACK"); !r) {
        return r.error();
      }
      counters_.deleted.fetch_add(claim->deleted.size());
      log_->info("consumer {}: {} pending entries were trimmed from {} before delivery", o.consumer,
                 claim->deleted.size(), o.stream);
    }
    counters_.claimed.fetch_add(claim->entries.size());
    if (auto r = handle_batch(claim->entries, false); !r) {
      return r;
    }
    start = claim->next_start;
    if (start == "0-0") {
      break;
    }
  }
  return {};
}

Result<void> Consumer::handle_batch(std::vector<redis::StreamEntry>& entries, bool fresh) {
  if (entries.empty()) {
    return {};
  }
  const auto& o = options_.options;
  std::unordered_map<std::string, std::int64_t> deliveries;
  if (!fresh) {
    // Redelivered entries: the group's delivery counter says how often they were handed out.
    const std::vector<std::string> argv = {"XPENDING",        o.stream,
                                           o.group,           entries.front().id,
                                           entries.back().id, std::to_string(entries.size() + 1000),
                                           o.consumer};
    auto reply = checked(conn_->command(argv), "XPENDING");
    if (!reply) {
      return reply.error();
    }
    auto pending = redis::parse_pending_reply(reply->get());
    if (!pending) {
      return pending.error();
    }
    for (auto& p : *pending) {
      deliveries.emplace(std::move(p.id), p.deliveries);
    }
  }
  std::vector<std::string> gone = {"XACK", o.stream, o.group};
  const auto flush_after = o.claim_idle / 4;
  for (const auto& entry : entries) {
    if (stopping()) {
      break;
    }
    if (!entry.fields) {
      gone.push_back(entry.id);
      continue;
    }
    std::int64_t count = 1;
    if (!fresh) {
      const auto it = deliveries.find(entry.id);
      if (it == deliveries.end()) {
        continue;  // no longer ours: acknowledged or claimed by another consumer meanwhile
      }
      count = it->second;
    }
    auto event = contract::decode_entry(*entry.fields, o.limits);
    if (!event) {
      if (auto r = dead_letter(entry, event.error().message()); !r) {
        return r;
      }
      continue;
    }
    if (count > o.max_deliveries) {
      if (auto r = dead_letter(entry, delivery_limit_reason(o.max_deliveries)); !r) {
        return r;
      }
      continue;
    }
    bool ok = false;
    ++handler_calls_;
    try {
      ok = handler_(Delivery{entry.id, *event, count});
    } catch (const std::exception& e) {
      log_->warn("consumer {}: handler threw on {}: {}", o.consumer, entry.id, e.what());
    } catch (...) {
      log_->warn("consumer {}: handler threw on {}", o.consumer, entry.id);
    }
    if (!ok) {
      counters_.handler_failures.fetch_add(1);
      continue;
    }
    counters_.handled.fetch_add(1);
    to_ack_.push_back(entry.id);
    const auto now = clock_.steady();
    if (!oldest_unacked_) {
      oldest_unacked_ = now;
    }
    // Acks go out per batch (one round trip); a slow batch flushes early so entries already
    // handled are not claimed by another consumer meanwhile.
    if (now - *oldest_unacked_ >= flush_after) {
      if (auto r = flush_acks(); !r) {
        return r;
      }
    }
  }
  if (gone.size() > 3) {
    if (auto r = checked(conn_->command(gone), "XACK"); !r) {
      return r.error();
    }
    counters_.deleted.fetch_add(gone.size() - 3);
  }
  return flush_acks();
}

Result<void> Consumer::dead_letter(const redis::StreamEntry& entry, std::string_view reason) {
  const auto& o = options_.options;
  std::vector<std::vector<std::string>> tx;
  tx.push_back({"MULTI"});
  std::vector<std::string> xadd = {"XADD", o.dead_letter_stream, "*"};
  for (auto& f : dead_letter_fields(entry.id, reason, o.consumer, *entry.fields)) {
    xadd.push_back(std::move(f.name));
    xadd.push_back(std::move(f.value));
  }
  tx.push_back(std::move(xadd));
  tx.push_back({"XACK", o.stream, o.group, entry.id});
  tx.push_back({"EXEC"});
  auto replies = conn_->pipeline(tx);
  if (!replies) {
    return replies.error();
  }
  // EXEC answers nil or an error when the transaction did not run, and an error element for
  // each command that failed inside it.
  const redisReply* exec = replies->back().get();
  bool failed = redis::is_nil(exec) || redis::is_error(exec);
  for (const auto& r : *replies) {
    failed = failed || redis::is_error(r.get());
  }
  for (const redisReply* item : redis::elements(exec)) {
    failed = failed || redis::is_error(item);
  }
  if (failed) {
    std::string why;
    for (const auto& r : *replies) {
      if (redis::is_error(r.get())) {
        why = redis::text(r.get());
      }
    }
    for (const redisReply* item : redis::elements(exec)) {
      if (redis::is_error(item)) {
        why = redis::text(item);
      }
    }
    return make_error(ErrorKind::server, "redis",
                      fmt::format("dead-lettering {} to {}: {}", entry.id, o.dead_letter_stream,
                                  why.empty() ? "failed" : why));
  }
  counters_.dead_lettered.fetch_add(1);
  log_->warn("consumer {}: dead-lettered {} to {}: {}", o.consumer, entry.id, o.dead_letter_stream,
             reason);
  return {};
}

Result<void> Consumer::flush_acks() {
  if (to_ack_.empty()) {
    return {};
  }
  const auto& o = options_.options;
  std::vector<std::string> argv = {"XACK", o.stream, o.group};
  argv.insert(argv.end(), to_ack_.begin(), to_ack_.end());
  auto reply = checked(conn_->command(argv), "XACK");
  if (!reply) {
    return reply.error();
  }
  if (const auto n = redis::integer(reply->get())) {
    counters_.acked.fetch_add(static_cast<std::uint64_t>(*n));
  }
  to_ack_.clear();
  oldest_unacked_.reset();
  return {};
}

}  // namespace galaxy::consumer
