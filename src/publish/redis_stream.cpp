#include "galaxy/publish/redis_stream.hpp"

#include <array>
#include <charconv>
#include <optional>

namespace galaxy::publish {
namespace {

using ReplyPtr = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

timeval to_timeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

std::string reply_text(const redisReply* r) {
  return r->str != nullptr ? std::string(r->str, r->len) : std::string();
}

}  // namespace

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

RedisStream::~RedisStream() {
  disconnect();
}

void RedisStream::disconnect() {
  if (ctx_ != nullptr) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
}

Error RedisStream::error(const std::string& what) const {
  const std::array<std::string, 1> secrets{endpoint_.password};
  return make_error("redis", scrub("redis at " + endpoint_.redacted() + ": " + what, secrets));
}

Result<void> RedisStream::connect() {
  disconnect();
  const timeval ct = to_timeval(settings_.connect_timeout);
  const bool unix_socket = endpoint_.transport == RedisEndpoint::Transport::unix_socket;
  redisContext* c = unix_socket
                        ? redisConnectUnixWithTimeout(endpoint_.socket_path.c_str(), ct)
                        : redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, ct);
  if (c == nullptr) {
    return error("out of memory");
  }
  if (c->err != 0) {
    auto e = error(std::string("cannot connect: ") + c->errstr);
    redisFree(c);
    return e;
  }
  ctx_ = c;
  if (redisSetTimeout(ctx_, to_timeval(settings_.io_timeout)) != REDIS_OK) {
    auto e = error("cannot set the I/O timeout");
    disconnect();
    return e;
  }
  if (!unix_socket) {
    (void)redisEnableKeepAlive(ctx_);
  }
  const auto command = [&](std::vector<std::string> argv) -> Result<ReplyPtr> {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const auto& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    ReplyPtr r(static_cast<redisReply*>(
                   redisCommandArgv(ctx_, static_cast<int>(argv.size()), ptrs.data(), lens.data())),
               &freeReplyObject);
    if (!r) {
      return error(std::string(argv[0]) + ": " + ctx_->errstr);
    }
    if (r->type == REDIS_REPLY_ERROR) {
      return error(argv[0] + " failed: " + reply_text(r.get()));
    }
    return r;
  };
  if (!endpoint_.password.empty()) {
    auto r = endpoint_.user.empty() ? command({"AUTH", endpoint_.password})
                                    : command({"AUTH", endpoint_.user, endpoint_.password});
    if (!r) {
      disconnect();
      return r.error();
    }
  }
  if (endpoint_.db != 0) {
    if (auto r = command({"SELECT", std::to_string(endpoint_.db)}); !r) {
      disconnect();
      return r.error();
    }
  }
  if (auto r = load_script(); !r) {
    disconnect();
    return r.error();
  }
  return {};
}

Result<void> RedisStream::load_script() {
  ReplyPtr r(static_cast<redisReply*>(redisCommand(ctx_, "SCRIPT LOAD %s", kXaddScript)),
             &freeReplyObject);
  if (!r) {
    return error(std::string("SCRIPT LOAD: ") + ctx_->errstr);
  }
  if (r->type != REDIS_REPLY_STRING) {
    return error("SCRIPT LOAD failed: " + reply_text(r.get()));
  }
  sha_ = reply_text(r.get());
  return {};
}

Result<std::vector<XaddResult>> RedisStream::publish(const std::string& epoch,
                                                     std::int64_t confirmed,
                                                     const std::vector<XaddItem>& items) {
  if (ctx_ == nullptr) {
    return error("not connected");
  }
  const std::string hwm = settings_.stream + ":hwm";
  const std::string idmp = settings_.stream + ":idmp";
  const std::string maxlen = std::to_string(settings_.maxlen);
  const std::string confirmed_s = std::to_string(confirmed);
  for (int attempt = 0;; ++attempt) {
    for (const auto& item : items) {
      const std::string seq = std::to_string(item.seq);
      std::vector<const char*> argv{
          "EVALSHA",    sha_.c_str(),  "3",         settings_.stream.c_str(), hwm.c_str(),
          idmp.c_str(), epoch.c_str(), seq.c_str(), maxlen.c_str(),           confirmed_s.c_str()};
      std::vector<size_t> lens;
      lens.reserve(argv.size() + 2 * item.fields.size());
      for (const char* a : argv) {
        lens.push_back(std::strlen(a));
      }
      for (const auto& f : item.fields) {
        argv.push_back(f.name.data());
        lens.push_back(f.name.size());
        argv.push_back(f.value.data());
        lens.push_back(f.value.size());
      }
      if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
          REDIS_OK) {
        return error(std::string("EVALSHA: ") + ctx_->errstr);
      }
    }
    std::vector<XaddResult> out;
    out.reserve(items.size());
    bool noscript = false;
    std::optional<Error> failed;
    for (const auto& item : items) {
      void* raw = nullptr;
      if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
        return error(std::string("EVALSHA: ") + ctx_->errstr);
      }
      const ReplyPtr r(static_cast<redisReply*>(raw), &freeReplyObject);
      if (r->type == REDIS_REPLY_ERROR) {
        const std::string text = reply_text(r.get());
        if (text.starts_with("NOSCRIPT")) {
          noscript = true;
        } else if (!failed) {
          failed = error("EVALSHA failed: " + text);
        }
        continue;
      }
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
          r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING) {
        if (!failed) {
          failed = error("unexpected EVALSHA reply");
        }
        continue;
      }
      out.push_back({item.seq, reply_text(r->element[1]), r->element[0]->integer == 1});
    }
    if (failed) {
      return *failed;
    }
    if (!noscript) {
      return out;
    }
    if (attempt > 0) {
      return error("NOSCRIPT again right after SCRIPT LOAD");
    }
    if (auto l = load_script(); !l) {
      return l.error();
    }
  }
}

}  // namespace galaxy::publish
