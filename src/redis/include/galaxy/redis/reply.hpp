// Readers for hiredis replies: views that live as long as the reply, and the errors a caller
// builds from a reply of the wrong shape or a Redis error reply.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/common/result.hpp"

struct redisReply;

namespace galaxy::redis {

struct ReplyDeleter {
  void operator()(redisReply* reply) const;
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

bool is_error(const redisReply* reply);
bool is_nil(const redisReply* reply);
bool is_string(const redisReply* reply);  // bulk string or status
bool is_array(const redisReply* reply);
// The text of a string, status or error reply; "" for other types.
std::string_view text(const redisReply* reply);
// The code of an error reply (its first word: "NOSCRIPT", "BUSYGROUP", "WRONGPASS"); "" otherwise.
std::string_view error_code(const redisReply* reply);
// True for an error reply whose code is `code`.
bool is_error_code(const redisReply* reply, std::string_view code);
// The value of an integer reply; nullopt for other types.
std::optional<std::int64_t> integer(const redisReply* reply);
// The elements of an array reply; empty for other types.
std::span<redisReply* const> elements(const redisReply* reply);

// Error{protocol, "redis", "unexpected reply shape: <what>"}.
Error shape_error(std::string_view what);
// Error{server, "redis", "<what>: <error text>", <error code>} for an error reply.
Error server_error(std::string_view what, const redisReply* reply);

// Flattens an XINFO-style [k1, v1, k2, v2, ...] reply; nested values are skipped.
struct InfoField {
  std::string name;
  const redisReply* value = nullptr;
};
std::vector<InfoField> info_fields(const redisReply* reply);

}  // namespace galaxy::redis
