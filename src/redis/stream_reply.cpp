#include "galaxy/redis/stream_reply.hpp"

#include <hiredis/hiredis.h>

#include "galaxy/redis/reply.hpp"

namespace galaxy::redis {

namespace {

Result<std::int64_t> as_integer(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_INTEGER) {
    return shape_error("expected an integer");
  }
  return static_cast<std::int64_t>(r->integer);
}

}  // namespace

Result<std::vector<StreamEntry>> parse_entries(const redisReply* reply) {
  if (!is_array(reply)) {
    return shape_error("expected an array of entries");
  }
  std::vector<StreamEntry> out;
  out.reserve(reply->elements);
  for (const redisReply* e : elements(reply)) {
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
    for (const redisReply* id : elements(deleted)) {
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
  for (const redisReply* e : elements(reply)) {
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

}  // namespace galaxy::redis
