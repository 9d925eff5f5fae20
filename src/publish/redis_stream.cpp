#include "galaxy/publish/redis_stream.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <optional>
#include <span>

namespace galaxy::publish {

// KEYS: stream, hwm, idmp. ARGV: db, lease, seq, maxlen, confirmed, field, value, ...
// seq values travel as strings (Lua numbers would print large ones in exponent form); they are
// compared as numbers, exact below 2^53. A lease epoch lower than the one that wrote last is
// refused before anything is touched: the daemon holding it has been replaced.
const char* const kXaddScript = R"lua(
local db, lease, seq = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local hwm = redis.call('HMGET', KEYS[2], 'db', 'seq', 'lease')
local last, held = 0, 0
if hwm[1] == db then
  last = tonumber(hwm[2]) or 0
  held = tonumber(hwm[3]) or 0
elseif hwm[1] then
  redis.call('DEL', KEYS[3])
end
if lease < held then
  return redis.error_reply('FENCED lease epoch ' .. ARGV[2] .. ' is older than ' .. hwm[3])
end
if seq <= last then
  -- Written even when unchanged (lease >= held here): a replay is a write, so a WAIT after it
  -- covers the entries it found, on a new master too.
  redis.call('HSET', KEYS[2], 'lease', ARGV[2])
  local ids = redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[3], ARGV[3])
  return {0, ids[1] or ''}
end
local cmd = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*'}
for i = 6, #ARGV do cmd[#cmd + 1] = ARGV[i] end
local id = redis.call(unpack(cmd))
redis.call('HSET', KEYS[2], 'db', db, 'seq', ARGV[3], 'lease', ARGV[2], 'id', id)
redis.call('ZADD', KEYS[3], ARGV[3], id)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[5])
return {1, id}
)lua";

// KEYS: hwm. ARGV: db, seq. Raises the host's mark to seq unless it is there already.
const char* const kAdoptScript = R"lua(
local hwm = redis.call('HMGET', KEYS[1], 'db', 'seq')
if hwm[1] == ARGV[1] and (tonumber(hwm[2]) or 0) >= tonumber(ARGV[2]) then
  return hwm[2]
end
if hwm[1] ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'db', ARGV[1], 'lease', '0')
end
redis.call('HSET', KEYS[1], 'seq', ARGV[2])
return ARGV[2]
)lua";

namespace {
std::optional<std::int64_t> to_seq(std::string_view text) {
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}
}  // namespace

RedisStream::RedisStream(RedisEndpoint endpoint, StreamSettings settings, HostFence fence)
    : endpoint_(std::move(endpoint)), settings_(std::move(settings)), fence_(std::move(fence)) {}

std::string RedisStream::hwm_key() const {
  return "{" + settings_.stream + "}:hwm:" + fence_.host_id;
}

std::string RedisStream::idmp_key() const {
  return "{" + settings_.stream + "}:idmp:" + fence_.host_id;
}

RedisStream::~RedisStream() = default;

void RedisStream::disconnect() {
  conn_.reset();
}

Result<void> RedisStream::connect() {
  disconnect();
  auto c = redis::Connection::open(endpoint_, settings_.connect_timeout, settings_.io_timeout,
                                   settings_.stream);
  if (!c) {
    return c.error();
  }
  conn_.emplace(std::move(*c));
  if (auto r = load_script(); !r) {
    disconnect();
    return r.error();
  }
  return {};
}

Result<void> RedisStream::load_script() {
  auto r = conn_->command({"SCRIPT", "LOAD", kXaddScript});
  if (!r) {
    return r.error();
  }
  if (!redis::is_string(r->get())) {
    return redis::server_error(fmt::format("SCRIPT LOAD at {}", conn_->endpoint()), r->get());
  }
  sha_ = std::string(redis::text(r->get()));
  return {};
}

Result<std::int64_t> RedisStream::adopt_legacy_hwm(const std::string& database_id) {
  if (!connected()) {
    return make_error(ErrorKind::closed, "redis", "not connected to " + endpoint_.redacted());
  }
  // The release before the fleet kept one mark for the database under `<stream>:hwm`. Read apart
  // from the script: in a Redis Cluster that key is in another slot than the host's.
  auto old = conn_->command({"HMGET", settings_.stream + ":hwm", "epoch", "seq"});
  if (!old) {
    return old.error();
  }
  const auto parts = redis::elements(old->get());
  std::int64_t seq = 0;
  if (parts.size() == 2 && redis::is_string(parts[0]) && redis::text(parts[0]) == database_id &&
      redis::is_string(parts[1])) {
    seq = to_seq(redis::text(parts[1])).value_or(0);
  }
  auto r = conn_->command({"EVAL", kAdoptScript, "1", hwm_key(), database_id, std::to_string(seq)});
  if (!r) {
    return r.error();
  }
  const auto mark = redis::is_string(r->get()) ? to_seq(redis::text(r->get())) : std::nullopt;
  if (!mark) {
    return redis::server_error(fmt::format("EVAL (adopt) at {}", conn_->endpoint()), r->get());
  }
  return *mark;
}

Result<void> RedisStream::wait_for_replicas() {
  if (settings_.wait_replicas <= 0) {
    return {};
  }
  // WAIT covers every write this connection made, so the batch (and for replays the script's
  // HSET) is what it counts; it answers after wait_timeout at the latest.
  const std::string n = std::to_string(settings_.wait_replicas);
  const std::string ms = std::to_string(settings_.wait_timeout.count());
  const std::array<std::string_view, 3> argv{"WAIT", n, ms};
  auto r = conn_->command(std::span<const std::string_view>(argv),
                          settings_.wait_timeout + settings_.io_timeout);
  if (!r) {
    return r.error();
  }
  const auto acked = redis::integer(r->get());
  if (!acked) {
    return redis::server_error(fmt::format("WAIT at {}", conn_->endpoint()), r->get());
  }
  if (*acked < settings_.wait_replicas) {
    return make_error(ErrorKind::server, "redis",
                      fmt::format("WAIT at {}: {} of {} replica(s) acknowledged the batch within "
                                  "{} ms; its rows stay in the outbox and are sent again",
                                  conn_->endpoint(), *acked, settings_.wait_replicas,
                                  settings_.wait_timeout.count()),
                      std::string(kWaitShortCode));
  }
  return {};
}

Result<std::int64_t> RedisStream::high_water(const std::string& database_id) {
  if (!connected()) {
    return make_error(ErrorKind::closed, "redis", "not connected to " + endpoint_.redacted());
  }
  auto r = conn_->command({"HMGET", hwm_key(), "db", "seq"});
  if (!r) {
    return r.error();
  }
  const auto parts = redis::elements(r->get());
  if (parts.size() != 2) {
    return redis::server_error(fmt::format("HMGET at {}", conn_->endpoint()), r->get());
  }
  if (!redis::is_string(parts[0]) || redis::text(parts[0]) != database_id ||
      !redis::is_string(parts[1])) {
    return std::int64_t{0};
  }
  return to_seq(redis::text(parts[1])).value_or(0);
}

Result<std::vector<XaddResult>> RedisStream::publish(const std::string& database_id,
                                                     std::int64_t confirmed,
                                                     const std::vector<XaddItem>& items) {
  if (!connected()) {
    return make_error(ErrorKind::closed, "redis", "not connected to " + endpoint_.redacted());
  }
  const std::string hwm = hwm_key();
  const std::string idmp = idmp_key();
  const std::string lease = std::to_string(fence_.epoch);
  const std::string maxlen = std::to_string(settings_.maxlen);
  const std::string confirmed_s = std::to_string(confirmed);
  std::vector<std::string> seqs;
  seqs.reserve(items.size());
  for (const auto& item : items) {
    seqs.push_back(std::to_string(item.seq));
  }
  for (int attempt = 0;; ++attempt) {
    std::vector<redis::Argv> commands;
    commands.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      redis::Argv& argv = commands.emplace_back();
      argv.reserve(11 + 2 * items[i].fields.size());
      argv.insert(argv.end(), {"EVALSHA", sha_, "3", settings_.stream, hwm, idmp, database_id,
                               lease, seqs[i], maxlen, confirmed_s});
      for (const auto& f : items[i].fields) {
        argv.push_back(f.name);
        argv.push_back(f.value);
      }
    }
    auto replies = conn_->pipeline(commands);
    if (!replies) {
      return replies.error();
    }
    std::vector<XaddResult> out;
    out.reserve(items.size());
    bool noscript = false;
    std::optional<Error> failed;
    for (std::size_t i = 0; i < items.size(); ++i) {
      const redisReply* r = (*replies)[i].get();
      if (redis::is_error_code(r, "NOSCRIPT")) {
        noscript = true;
        continue;
      }
      if (redis::is_error(r)) {
        if (!failed) {
          failed = redis::server_error(fmt::format("EVALSHA at {}", conn_->endpoint()), r);
        }
        continue;
      }
      const auto parts = redis::elements(r);
      if (parts.size() != 2 || !redis::integer(parts[0]) || !redis::is_string(parts[1])) {
        if (!failed) {
          failed = redis::shape_error("EVALSHA: expected [added, id]");
        }
        continue;
      }
      out.push_back(
          {items[i].seq, std::string(redis::text(parts[1])), *redis::integer(parts[0]) == 1});
    }
    if (failed) {
      return *failed;
    }
    if (!noscript) {
      if (auto w = wait_for_replicas(); !w) {
        return w.error();
      }
      return out;
    }
    if (attempt > 0) {
      return make_error(ErrorKind::server, "redis", "NOSCRIPT again right after SCRIPT LOAD",
                        "NOSCRIPT");
    }
    if (auto l = load_script(); !l) {
      return l.error();
    }
  }
}

}  // namespace galaxy::publish
