#include "galaxy/redis/reply.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

namespace galaxy::redis {

void ReplyDeleter::operator()(redisReply* reply) const {
  freeReplyObject(reply);
}

bool is_error(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ERROR;
}

bool is_nil(const redisReply* reply) {
  return reply == nullptr || reply->type == REDIS_REPLY_NIL;
}

bool is_string(const redisReply* reply) {
  return reply != nullptr &&
         (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS);
}

bool is_array(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ARRAY;
}

std::string_view text(const redisReply* reply) {
  if (reply == nullptr || (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_STATUS &&
                           reply->type != REDIS_REPLY_ERROR)) {
    return {};
  }
  return {reply->str, reply->len};
}

std::string_view error_code(const redisReply* reply) {
  if (!is_error(reply)) {
    return {};
  }
  const auto t = text(reply);
  return t.substr(0, t.find(' '));
}

bool is_error_code(const redisReply* reply, std::string_view code) {
  return is_error(reply) && error_code(reply) == code;
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
  return {reply->element, reply->elements};
}

Error shape_error(std::string_view what) {
  return make_error(ErrorKind::protocol, "redis", fmt::format("unexpected reply shape: {}", what));
}

Error server_error(std::string_view what, const redisReply* reply) {
  return make_error(ErrorKind::server, "redis", fmt::format("{}: {}", what, text(reply)),
                    std::string(error_code(reply)));
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

}  // namespace galaxy::redis
