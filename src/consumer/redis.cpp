#include "galaxy/consumer/redis.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cassert>
#include <utility>

namespace galaxy::consumer::redis {

namespace {

Error shape_error(std::string_view what) {
  return make_error("redis", fmt::format("unexpected reply shape: {}", what));
}

timeval to_timeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

bool is_string(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

bool is_array(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_ARRAY;
}

std::span<redisReply* const> items(const redisReply* r) {
  return {r->element, r->elements};
}

Result<std::int64_t> as_integer(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_INTEGER) {
    return shape_error("expected an integer");
  }
  return static_cast<std::int64_t>(r->integer);
}

}  // namespace

void ReplyDeleter::operator()(redisReply* reply) const {
  freeReplyObject(reply);
}

bool is_error(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ERROR;
}

bool is_nil(const redisReply* reply) {
  return reply == nullptr || reply->type == REDIS_REPLY_NIL;
}

std::string_view text(const redisReply* reply) {
  if (reply == nullptr || (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_STATUS &&
                           reply->type != REDIS_REPLY_ERROR)) {
    return {};
  }
  return {reply->str, reply->len};
}

bool is_error_code(const redisReply* reply, std::string_view code) {
  if (!is_error(reply)) {
    return false;
  }
  const auto t = text(reply);
  return t.starts_with(code) && (t.size() == code.size() || t[code.size()] == ' ');
}

std::optional<std::int64_t> integer(const redisReply* reply) {
  if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(reply->integer);
}

std::span<redisReply* const> elements(const redisReply* reply) {
  if (!is_array(reply)) {
    return {};
  }
  return items(reply);
}

Connection::Connection(redisContext* ctx, std::string endpoint,
                       std::chrono::milliseconds command_timeout)
    : ctx_(ctx), endpoint_(std::move(endpoint)), command_timeout_(command_timeout) {}

Connection::Connection(Connection&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)),
      endpoint_(std::move(other.endpoint_)),
      command_timeout_(other.command_timeout_) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (ctx_ != nullptr) {
      redisFree(ctx_);
    }
    ctx_ = std::exchange(other.ctx_, nullptr);
    endpoint_ = std::move(other.endpoint_);
    command_timeout_ = other.command_timeout_;
  }
  return *this;
}

Connection::~Connection() {
  if (ctx_ != nullptr) {
    redisFree(ctx_);
  }
}

bool Connection::broken() const {
  return ctx_ == nullptr || ctx_->err != 0;
}

Error Connection::io_error(std::string_view what) const {
  // hiredis reports a read timeout as an I/O error with errno EAGAIN's text.
  const std::string detail = ctx_ != nullptr && ctx_->err != 0 ? ctx_->errstr : "connection lost";
  return make_error("redis", fmt::format("{} at {}: {}", what, endpoint_, detail));
}

Result<void> Connection::set_timeout(std::chrono::milliseconds timeout) {
  if (redisSetTimeout(ctx_, to_timeval(timeout)) != REDIS_OK) {
    return io_error("setting the socket timeout");
  }
  return {};
}

Result<Connection> Connection::open(const RedisEndpoint& endpoint,
                                    std::chrono::milliseconds connect_timeout,
                                    std::chrono::milliseconds command_timeout) {
  const auto tv = to_timeval(connect_timeout);
  redisContext* ctx = endpoint.transport == RedisEndpoint::Transport::unix_socket
                          ? redisConnectUnixWithTimeout(endpoint.socket_path.c_str(), tv)
                          : redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, tv);
  if (ctx == nullptr) {
    return make_error("redis", "out of memory creating a connection");
  }
  Connection conn(ctx, endpoint.redacted(), command_timeout);
  if (ctx->err != 0) {
    return conn.io_error("connecting");
  }
  // The handshake shares the connect deadline.
  if (auto r = conn.set_timeout(connect_timeout); !r) {
    return r.error();
  }
  auto check = [&conn](Result<ReplyPtr> reply, std::string_view what) -> Result<void> {
    if (!reply) {
      return reply.error();
    }
    if (is_error(reply->get())) {
      // Server text for AUTH failures ("WRONGPASS ...") does not contain the password.
      return make_error("redis",
                        fmt::format("{} at {}: {}", what, conn.endpoint_, text(reply->get())));
    }
    return {};
  };
  if (!endpoint.password.empty()) {
    auto r = endpoint.user.empty() ? conn.command({"AUTH", endpoint.password})
                                   : conn.command({"AUTH", endpoint.user, endpoint.password});
    if (auto c = check(std::move(r), "AUTH"); !c) {
      return c.error();
    }
  }
  if (endpoint.db != 0) {
    const auto db = std::to_string(endpoint.db);
    if (auto c = check(conn.command({"SELECT", db}), "SELECT"); !c) {
      return c.error();
    }
  }
  if (auto r = conn.set_timeout(command_timeout); !r) {
    return r.error();
  }
  return conn;
}

Result<ReplyPtr> Connection::command(std::span<const std::string> argv,
                                     std::optional<std::chrono::milliseconds> timeout) {
  if (broken()) {
    return io_error("command on a broken connection");
  }
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  if (timeout) {
    if (auto r = set_timeout(*timeout); !r) {
      return r.error();
    }
  }
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data()));
  ReplyPtr reply(raw);
  if (timeout && !broken()) {
    if (auto r = set_timeout(command_timeout_); !r) {
      return r.error();
    }
  }
  if (!reply) {
    return io_error(argv.empty() ? std::string_view("command") : std::string_view(argv.front()));
  }
  return reply;
}

Result<ReplyPtr> Connection::command(std::initializer_list<std::string_view> argv) {
  std::vector<std::string> args(argv.begin(), argv.end());
  return command(args);
}

Result<std::vector<ReplyPtr>> Connection::pipeline(
    std::span<const std::vector<std::string>> commands) {
  if (broken()) {
    return io_error("pipeline on a broken connection");
  }
  for (const auto& cmd : commands) {
    std::vector<const char*> args;
    std::vector<std::size_t> lens;
    for (const auto& a : cmd) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data()) !=
        REDIS_OK) {
      return io_error("pipeline");
    }
  }
  std::vector<ReplyPtr> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK) {
      return io_error("pipeline");
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

Result<std::vector<StreamEntry>> parse_entries(const redisReply* reply) {
  if (!is_array(reply)) {
    return shape_error("expected an array of entries");
  }
  std::vector<StreamEntry> out;
  out.reserve(reply->elements);
  for (const redisReply* e : items(reply)) {
    if (is_nil(e)) {
      continue;  // Redis 6.2 XAUTOCLAIM: a deleted entry without its ID
    }
    if (!is_array(e) || e->elements != 2 || !is_string(e->element[0])) {
      return shape_error("expected [id, fields]");
    }
    StreamEntry entry;
    entry.id = std::string(text(e->element[0]));
    const redisReply* fields = e->element[1];
    if (!is_nil(fields)) {
      if (!is_array(fields) || fields->elements % 2 != 0) {
        return shape_error("expected field/value pairs");
      }
      contract::EntryFields parsed;
      parsed.reserve(fields->elements / 2);
      for (std::size_t i = 0; i < fields->elements; i += 2) {
        if (!is_string(fields->element[i]) || !is_string(fields->element[i + 1])) {
          return shape_error("expected string fields");
        }
        parsed.push_back(contract::EntryField{std::string(text(fields->element[i])),
                                              std::string(text(fields->element[i + 1]))});
      }
      entry.fields = std::move(parsed);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

Result<std::vector<StreamEntry>> parse_read_reply(const redisReply* reply) {
  if (is_nil(reply)) {
    return std::vector<StreamEntry>{};
  }
  if (!is_array(reply)) {
    return shape_error("expected nil or an array of streams");
  }
  if (reply->elements == 0) {
    return std::vector<StreamEntry>{};
  }
  const redisReply* stream = reply->element[0];
  if (reply->elements != 1 || !is_array(stream) || stream->elements != 2) {
    return shape_error("expected [[stream, entries]]");
  }
  return parse_entries(stream->element[1]);
}

Result<AutoclaimReply> parse_autoclaim_reply(const redisReply* reply) {
  if (!is_array(reply) || reply->elements < 2 || !is_string(reply->element[0])) {
    return shape_error("expected [next, entries, deleted]");
  }
  AutoclaimReply out;
  out.next_start = std::string(text(reply->element[0]));
  auto entries = parse_entries(reply->element[1]);
  if (!entries) {
    return entries.error();
  }
  out.entries = std::move(*entries);
  if (reply->elements >= 3) {
    const redisReply* deleted = reply->element[2];
    if (!is_array(deleted)) {
      return shape_error("expected an array of deleted IDs");
    }
    for (const redisReply* id : items(deleted)) {
      if (!is_string(id)) {
        return shape_error("expected deleted IDs as strings");
      }
      out.deleted.emplace_back(text(id));
    }
  }
  return out;
}

Result<std::vector<PendingEntry>> parse_pending_reply(const redisReply* reply) {
  if (!is_array(reply)) {
    return shape_error("expected an array of pending entries");
  }
  std::vector<PendingEntry> out;
  for (const redisReply* e : items(reply)) {
    if (!is_array(e) || e->elements != 4 || !is_string(e->element[0]) ||
        !is_string(e->element[1])) {
      return shape_error("expected [id, consumer, idle, deliveries]");
    }
    auto idle = as_integer(e->element[2]);
    auto deliveries = as_integer(e->element[3]);
    if (!idle || !deliveries) {
      return shape_error("expected integer idle time and delivery count");
    }
    out.push_back(PendingEntry{std::string(text(e->element[0])), std::string(text(e->element[1])),
                               *idle, *deliveries});
  }
  return out;
}

std::vector<InfoField> info_fields(const redisReply* reply) {
  std::vector<InfoField> out;
  if (!is_array(reply)) {
    return out;
  }
  for (std::size_t i = 0; i + 1 < reply->elements; i += 2) {
    if (is_string(reply->element[i])) {
      out.push_back(InfoField{std::string(text(reply->element[i])), reply->element[i + 1]});
    }
  }
  return out;
}

}  // namespace galaxy::consumer::redis
