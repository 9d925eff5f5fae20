// One Redis connection over hiredis, for everything that talks to Redis (the durable sink's
// relay, the consumer SDK, the CLI).
//
// hiredis 0.14 is the Redis client Debian ships; its blocking context, with a socket timeout on
// every read and write, is enough for users that do one thing at a time. (It has no Sentinel or
// Cluster support: those are built above this type.)
//
// Errors: Error{kind, "redis", reason}; kind is io (could not connect, reset), timeout (no reply
// within the deadline), closed (the server closed the connection) or protocol (an unreadable
// reply). After any of them the connection is broken and every later call fails fast; the caller
// opens a new one. A Redis error reply is not an Error: it comes back as a reply (is_error();
// server_error() in reply.hpp turns it into one). Reasons name the endpoint only in redacted form.
//
// hiredis writes with write(): a process that uses a Connection must block or ignore SIGPIPE, or
// a write to a Redis that just died kills it.
//
// Not thread-safe: one thread uses a Connection at a time. Movable.
#pragma once

#include <chrono>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/common/redis_url.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/redis/reply.hpp"

struct redisContext;

namespace galaxy::redis {

// One command's arguments, binary-safe.
using Argv = std::vector<std::string_view>;

class Connection {
 public:
  // Connects, then AUTHs and SELECTs as the endpoint says, all within connect_timeout; every later
  // command gets command_timeout. A refused AUTH or SELECT is Error{server, ...} with the code
  // Redis gave ("WRONGPASS"). Throws nothing.
  static Result<Connection> open(const RedisEndpoint& endpoint,
                                 std::chrono::milliseconds connect_timeout,
                                 std::chrono::milliseconds command_timeout);

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // Sends one command and returns its reply. `timeout` overrides command_timeout for this call
  // only (BLOCK commands need more than the block time).
  Result<ReplyPtr> command(std::span<const std::string_view> argv,
                           std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<ReplyPtr> command(std::span<const std::string> argv,
                           std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<ReplyPtr> command(std::initializer_list<std::string_view> argv);

  // Sends all commands before reading any reply (one round trip); replies are in order.
  Result<std::vector<ReplyPtr>> pipeline(std::span<const Argv> commands);
  Result<std::vector<ReplyPtr>> pipeline(std::span<const std::vector<std::string>> commands);

  bool broken() const;
  // "redis://user:***@host:port/db": safe to log.
  const std::string& endpoint() const { return endpoint_; }

 private:
  Connection(redisContext* ctx, std::string endpoint, std::chrono::milliseconds command_timeout);
  Error io_error(std::string_view what) const;
  Result<void> set_timeout(std::chrono::milliseconds timeout);
  Result<void> append(std::size_t argc, const char** argv, const std::size_t* lens);
  Result<std::vector<ReplyPtr>> read_replies(std::size_t n);

  redisContext* ctx_ = nullptr;
  std::string endpoint_;  // redacted
  std::chrono::milliseconds command_timeout_{};
  std::chrono::milliseconds current_timeout_{};
};

}  // namespace galaxy::redis
