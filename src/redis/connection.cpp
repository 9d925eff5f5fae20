#include "galaxy/redis/connection.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace galaxy::redis {

namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

// hiredis 0.14 keeps only err (a class) and errstr (strerror's text for I/O errors): a read that
// hit the socket timeout is REDIS_ERR_IO with EAGAIN's text, a connect that timed out ETIMEDOUT's.
ErrorKind kind_of(const redisContext* ctx) {
  if (ctx == nullptr) {
    return ErrorKind::closed;
  }
  switch (ctx->err) {
    case REDIS_ERR_EOF:
      return ErrorKind::closed;
    case REDIS_ERR_PROTOCOL:
      return ErrorKind::protocol;
    case REDIS_ERR_IO: {
      const std::string_view text(ctx->errstr);
      const auto is = [&](int e) { return text == std::generic_category().message(e); };
      if (is(EAGAIN) || is(ETIMEDOUT) || is(EINPROGRESS)) {
        return ErrorKind::timeout;
      }
      return ErrorKind::io;
    }
    default:
      return ErrorKind::io;
  }
}

}  // namespace

Connection::Connection(redisContext* ctx, std::string endpoint,
                       std::chrono::milliseconds command_timeout)
    : ctx_(ctx), endpoint_(std::move(endpoint)), command_timeout_(command_timeout) {}

Connection::Connection(Connection&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)),
      endpoint_(std::move(other.endpoint_)),
      command_timeout_(other.command_timeout_),
      current_timeout_(other.current_timeout_) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (ctx_ != nullptr) {
      redisFree(ctx_);
    }
    ctx_ = std::exchange(other.ctx_, nullptr);
    endpoint_ = std::move(other.endpoint_);
    command_timeout_ = other.command_timeout_;
    current_timeout_ = other.current_timeout_;
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
  const bool has = ctx_ != nullptr && ctx_->err != 0;
  const std::string detail = has ? ctx_->errstr : "connection lost";
  const ErrorKind kind = has ? kind_of(ctx_) : ErrorKind::closed;
  return make_error(kind, "redis", fmt::format("{} at {}: {}", what, endpoint_, detail));
}

Result<void> Connection::set_timeout(std::chrono::milliseconds timeout) {
  if (timeout == current_timeout_) {
    return {};
  }
  if (redisSetTimeout(ctx_, to_timeval(timeout)) != REDIS_OK) {
    return io_error("setting the socket timeout");
  }
  current_timeout_ = timeout;
  return {};
}

Result<Connection> Connection::open(const RedisEndpoint& endpoint,
                                    std::chrono::milliseconds connect_timeout,
                                    std::chrono::milliseconds command_timeout) {
  const auto tv = to_timeval(connect_timeout);
  const bool unix_socket = endpoint.transport == RedisEndpoint::Transport::unix_socket;
  redisContext* ctx = unix_socket
                          ? redisConnectUnixWithTimeout(endpoint.socket_path.c_str(), tv)
                          : redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, tv);
  if (ctx == nullptr) {
    return make_error(ErrorKind::io, "redis", "out of memory creating a connection");
  }
  Connection conn(ctx, endpoint.redacted(), command_timeout);
  if (ctx->err != 0) {
    return conn.io_error("connecting");
  }
  if (!unix_socket) {
    // A peer that vanished without a RST is noticed by the kernel too, not only by our timeouts.
    (void)redisEnableKeepAlive(ctx);
  }
  // The handshake shares the connect deadline.
  if (auto r = conn.set_timeout(connect_timeout); !r) {
    return r.error();
  }
  auto check = [](Result<ReplyPtr> reply, std::string_view what) -> Result<void> {
    if (!reply) {
      return reply.error();
    }
    if (is_error(reply->get())) {
      // Redis's text for AUTH failures ("WRONGPASS ...") does not contain the password.
      return server_error(what, reply->get());
    }
    return {};
  };
  if (!endpoint.password.empty()) {
    auto r = endpoint.user.empty() ? conn.command({"AUTH", endpoint.password})
                                   : conn.command({"AUTH", endpoint.user, endpoint.password});
    if (auto c = check(std::move(r), fmt::format("AUTH at {}", conn.endpoint_)); !c) {
      return c.error();
    }
  }
  if (endpoint.db != 0) {
    const auto db = std::to_string(endpoint.db);
    if (auto c = check(conn.command({"SELECT", db}), fmt::format("SELECT at {}", conn.endpoint_));
        !c) {
      return c.error();
    }
  }
  if (auto r = conn.set_timeout(command_timeout); !r) {
    return r.error();
  }
  return conn;
}

Result<void> Connection::append(std::size_t argc, const char** argv, const std::size_t* lens) {
  if (redisAppendCommandArgv(ctx_, static_cast<int>(argc), argv, lens) != REDIS_OK) {
    return io_error("sending");
  }
  return {};
}

Result<std::vector<ReplyPtr>> Connection::read_replies(std::size_t n) {
  std::vector<ReplyPtr> replies;
  replies.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      return io_error(n == 1 ? "waiting for a reply" : "waiting for pipeline replies");
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

Result<ReplyPtr> Connection::command(std::span<const std::string_view> argv,
                                     std::optional<std::chrono::milliseconds> timeout) {
  if (broken()) {
    return io_error("command on a broken connection");
  }
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  if (auto r = set_timeout(timeout.value_or(command_timeout_)); !r) {
    return r.error();
  }
  if (auto a = append(args.size(), args.data(), lens.data()); !a) {
    return a.error();
  }
  auto replies = read_replies(1);
  if (!replies) {
    return replies.error();
  }
  return std::move(replies->front());
}

Result<ReplyPtr> Connection::command(std::span<const std::string> argv,
                                     std::optional<std::chrono::milliseconds> timeout) {
  const Argv views(argv.begin(), argv.end());
  return command(std::span<const std::string_view>(views), timeout);
}

Result<ReplyPtr> Connection::command(std::initializer_list<std::string_view> argv) {
  return command(std::span<const std::string_view>(argv.begin(), argv.size()));
}

Result<std::vector<ReplyPtr>> Connection::pipeline(std::span<const Argv> commands) {
  if (broken()) {
    return io_error("pipeline on a broken connection");
  }
  if (auto r = set_timeout(command_timeout_); !r) {
    return r.error();
  }
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  for (const auto& cmd : commands) {
    args.clear();
    lens.clear();
    for (const auto a : cmd) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    if (auto a = append(args.size(), args.data(), lens.data()); !a) {
      return a.error();
    }
  }
  return read_replies(commands.size());
}

Result<std::vector<ReplyPtr>> Connection::pipeline(
    std::span<const std::vector<std::string>> commands) {
  std::vector<Argv> views;
  views.reserve(commands.size());
  for (const auto& cmd : commands) {
    views.emplace_back(cmd.begin(), cmd.end());
  }
  return pipeline(std::span<const Argv>(views));
}

}  // namespace galaxy::redis
