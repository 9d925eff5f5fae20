// A blocking hiredis connection with deadlines, and readers for the stream replies we use.
//
// hiredis 0.14 is the Redis client Debian ships; its blocking context is enough for a consumer,
// which does one thing at a time. A Connection is NOT thread-safe: one thread uses it at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/common/redis_url.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/contract/codec.hpp"

struct redisContext;
struct redisReply;

namespace galaxy::consumer::redis {

struct ReplyDeleter {
  void operator()(redisReply* reply) const;
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// Views of a reply; the views live as long as the reply.
bool is_error(const redisReply* reply);
bool is_nil(const redisReply* reply);
// The text of a string, status or error reply; "" for other types.
std::string_view text(const redisReply* reply);
// True for an error reply whose code (first word) is `code`, e.g. "BUSYGROUP", "NOGROUP".
bool is_error_code(const redisReply* reply, std::string_view code);
// The value of an integer reply; nullopt for other types.
std::optional<std::int64_t> integer(const redisReply* reply);
// The elements of an array reply; empty for other types.
std::span<redisReply* const> elements(const redisReply* reply);

class Connection {
 public:
  // Connects, then AUTHs and SELECTs as the endpoint says, all within connect_timeout; every later
  // command gets command_timeout. Errors are Error{"redis", reason}; a reason names the endpoint
  // only in redacted form. Throws nothing.
  static Result<Connection> open(const RedisEndpoint& endpoint,
                                 std::chrono::milliseconds connect_timeout,
                                 std::chrono::milliseconds command_timeout);

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // Sends one command (binary-safe arguments) and returns its reply. A Redis error reply is a
  // value (check is_error); an Error means I/O failed or timed out, after which the connection is
  // broken and every later call fails too. `timeout` overrides command_timeout for this call only
  // (BLOCK commands need more than the block time).
  Result<ReplyPtr> command(std::span<const std::string> argv,
                           std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<ReplyPtr> command(std::initializer_list<std::string_view> argv);

  // Sends all commands before reading any reply (one round trip); replies are in order.
  Result<std::vector<ReplyPtr>> pipeline(std::span<const std::vector<std::string>> commands);

  bool broken() const;

 private:
  Connection(redisContext* ctx, std::string endpoint, std::chrono::milliseconds command_timeout);
  Error io_error(std::string_view what) const;
  Result<void> set_timeout(std::chrono::milliseconds timeout);

  redisContext* ctx_ = nullptr;
  std::string endpoint_;  // redacted
  std::chrono::milliseconds command_timeout_{};
};

// One stream entry as read; fields is nullopt when the entry was deleted (trimmed) while pending.
struct StreamEntry {
  std::string id;
  std::optional<contract::EntryFields> fields;
};

// Errors below are Error{"redis", ...} for replies of an unexpected shape.

// [[id, [f, v, ...] | nil], ...]
Result<std::vector<StreamEntry>> parse_entries(const redisReply* reply);
// The reply of XREAD / XREADGROUP for one stream: nil (timed out) or [[stream, entries]].
Result<std::vector<StreamEntry>> parse_read_reply(const redisReply* reply);

struct AutoclaimReply {
  std::string next_start;            // "0-0" when the scan is complete
  std::vector<StreamEntry> entries;  // claimed entries (nil entries of Redis 6.2 are dropped)
  std::vector<std::string> deleted;  // Redis 7: IDs no longer in the stream
};
Result<AutoclaimReply> parse_autoclaim_reply(const redisReply* reply);

struct PendingEntry {
  std::string id;
  std::string consumer;
  std::int64_t idle_ms = 0;
  std::int64_t deliveries = 0;
};
// The extended form: XPENDING key group start end count [consumer].
Result<std::vector<PendingEntry>> parse_pending_reply(const redisReply* reply);

// Flattens an XINFO-style [k1, v1, k2, v2, ...] reply; nested values are skipped.
struct InfoField {
  std::string name;
  const redisReply* value = nullptr;
};
std::vector<InfoField> info_fields(const redisReply* reply);

}  // namespace galaxy::consumer::redis
