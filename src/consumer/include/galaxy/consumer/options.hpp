// Settings of one stream consumer, in the spirit of redis-plus-plus's option structs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "galaxy/common/redis_url.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/contract/codec.hpp"

namespace galaxy::consumer {

inline constexpr std::string_view kDefaultStream = "runtime:health_events";

struct ConsumerOptions {
  std::string redis_url = "redis://127.0.0.1:6379";
  std::string stream{kDefaultStream};
  std::string group;     // required
  std::string consumer;  // required; unique within the group (its pending entries are its own)
  // Where a group created by this consumer starts: "$" (new entries only), "0" (the whole
  // stream) or an entry ID. An existing group keeps its position.
  std::string start_id = "$";
  // How long one XREADGROUP waits for new entries; also bounds how long stop() may take.
  std::chrono::milliseconds block{2000};
  std::size_t count = 100;  // entries per read
  // When set, run() returns once the handler has been called this many times (handled or not),
  // and no read asks for more entries than that still allows: a consumer that stops at its limit
  // leaves nothing delivered to it but never handed to the handler (only entries whose handler
  // failed stay pending, as always). 0 means no limit.
  std::uint64_t limit = 0;
  // Entries pending longer than this (a dead consumer's, or our own failed ones) are claimed.
  std::chrono::milliseconds claim_idle{30000};
  // How often to look for such entries; 0 means claim_idle / 2.
  std::chrono::milliseconds claim_interval{0};
  // A delivery whose count exceeds this goes to the dead-letter stream instead of the handler.
  std::int64_t max_deliveries = 5;
  std::string dead_letter_stream;  // empty means "<stream>:dead"
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
  // Reconnect backoff: doubling from min up to max, with equal jitter (each delay in [d/2, d]).
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5000};
  contract::DecodeLimits limits;
};

// Options checked and with defaults filled in, plus the parsed endpoint.
struct ResolvedOptions {
  ConsumerOptions options;
  RedisEndpoint endpoint;
};

// Checks every field and fills dead_letter_stream and claim_interval. Errors are
// Error{"<field>", reason}; the redis_url reason never contains the password. Pure, thread-safe.
Result<ResolvedOptions> resolve(ConsumerOptions options);

// True for "$", "0" and "<ms>" / "<ms>-<seq>" with decimal parts: the start IDs Redis accepts.
bool is_start_id(std::string_view id);

}  // namespace galaxy::consumer
