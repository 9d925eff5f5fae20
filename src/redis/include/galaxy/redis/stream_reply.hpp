// Readers for the replies of the stream commands (XREAD, XREADGROUP, XAUTOCLAIM, XPENDING).
// Errors are Error{protocol, "redis", ...} for replies of an unexpected shape.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "galaxy/common/result.hpp"
#include "galaxy/contract/codec.hpp"

struct redisReply;

namespace galaxy::redis {

// One stream entry as read; fields is nullopt when the entry was deleted (trimmed) while pending.
struct StreamEntry {
  std::string id;
  std::optional<contract::EntryFields> fields;
};

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

}  // namespace galaxy::redis
