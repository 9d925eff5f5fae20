#include "galaxy/consumer/options.hpp"

#include <algorithm>

namespace galaxy::consumer {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 20 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool is_start_id(std::string_view id) {
  if (id == "$") {
    return true;
  }
  const auto dash = id.find('-');
  if (dash == std::string_view::npos) {
    return all_digits(id);
  }
  return all_digits(id.substr(0, dash)) && all_digits(id.substr(dash + 1));
}

Result<ResolvedOptions> resolve(ConsumerOptions o) {
  using std::chrono::milliseconds;
  auto endpoint = parse_redis_url(o.redis_url);
  if (!endpoint) {
    // Named as the option, like every other error here; the reason says which part is wrong.
    return make_error("redis_url", endpoint.error().reason);
  }
  if (o.stream.empty()) {
    return make_error("stream", "must not be empty");
  }
  if (o.group.empty()) {
    return make_error("group", "must not be empty");
  }
  if (o.consumer.empty()) {
    return make_error("consumer", "must not be empty");
  }
  if (!is_start_id(o.start_id)) {
    return make_error("start_id", "must be $, 0 or an entry ID like 1700000000000-0");
  }
  if (o.block <= milliseconds::zero()) {
    // BLOCK 0 would wait forever: no deadline, and stop() could not return.
    return make_error("block", "must be positive");
  }
  if (o.count == 0 || o.count > 10000) {
    return make_error("count", "must be 1-10000");
  }
  if (o.claim_idle <= milliseconds::zero()) {
    return make_error("claim_idle", "must be positive");
  }
  if (o.claim_interval < milliseconds::zero()) {
    return make_error("claim_interval", "must not be negative");
  }
  if (o.claim_interval == milliseconds::zero()) {
    o.claim_interval = std::max(o.claim_idle / 2, milliseconds(1));
  }
  if (o.max_deliveries < 1) {
    return make_error("max_deliveries", "must be at least 1");
  }
  if (o.dead_letter_stream.empty()) {
    o.dead_letter_stream = o.stream + ":dead";
  }
  if (o.dead_letter_stream == o.stream) {
    return make_error("dead_letter_stream", "must differ from the stream");
  }
  if (o.connect_timeout <= milliseconds::zero()) {
    return make_error("connect_timeout", "must be positive");
  }
  if (o.command_timeout <= milliseconds::zero()) {
    return make_error("command_timeout", "must be positive");
  }
  if (o.reconnect_min <= milliseconds::zero() || o.reconnect_max < o.reconnect_min) {
    return make_error("reconnect_min", "must be positive and not above reconnect_max");
  }
  return ResolvedOptions{std::move(o), std::move(*endpoint)};
}

}  // namespace galaxy::consumer
