#include "galaxy/publish/redis_stream.hpp"

#include <fmt/format.h>

#include <optional>

namespace galaxy::publish {

// KEYS: stream, hwm, idmp. ARGV: epoch, seq, maxlen, confirmed, field, value, ...
// seq values travel as strings (Lua numbers would print large ones in exponent form); they are
// compared as numbers, exact below 2^53.
const char* const kXaddScript = R"lua(
local epoch, seq = ARGV[1], tonumber(ARGV[2])
local hwm = redis.call('HMGET', KEYS[2], 'epoch', 'seq')
local last = 0
if hwm[1] == epoch then
  last = tonumber(hwm[2]) or 0
elseif hwm[1] then
  redis.call('DEL', KEYS[3])
end
if seq <= last then
  local ids = redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[2], ARGV[2])
  return {0, ids[1] or ''}
end
local cmd = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*'}
for i = 5, #ARGV do cmd[#cmd + 1] = ARGV[i] end
local id = redis.call(unpack(cmd))
redis.call('HSET', KEYS[2], 'epoch', epoch, 'seq', ARGV[2], 'id', id)
redis.call('ZADD', KEYS[3], ARGV[2], id)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[4])
return {1, id}
)lua";

RedisStream::RedisStream(RedisEndpoint endpoint, StreamSettings settings)
    : endpoint_(std::move(endpoint)), settings_(std::move(settings)) {}

RedisStream::~RedisStream() = default;

void RedisStream::disconnect() {
  conn_.reset();
}

Result<void> RedisStream::connect() {
  disconnect();
  auto c = redis::Connection::open(endpoint_, settings_.connect_timeout, settings_.io_timeout);
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

Result<std::vector<XaddResult>> RedisStream::publish(const std::string& epoch,
                                                     std::int64_t confirmed,
                                                     const std::vector<XaddItem>& items) {
  if (!connected()) {
    return make_error(ErrorKind::closed, "redis", "not connected to " + endpoint_.redacted());
  }
  const std::string hwm = settings_.stream + ":hwm";
  const std::string idmp = settings_.stream + ":idmp";
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
      argv.reserve(10 + 2 * items[i].fields.size());
      argv.insert(argv.end(), {"EVALSHA", sha_, "3", settings_.stream, hwm, idmp, epoch, seqs[i],
                               maxlen, confirmed_s});
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
