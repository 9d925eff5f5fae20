#include "galaxy/cli/commands.hpp"

#include <fmt/format.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>

#include "galaxy/cli/exec.hpp"
#include "galaxy/cli/render.hpp"
#include "galaxy/common/clock.hpp"
#include "galaxy/consumer/consumer.hpp"
#include "galaxy/contract/codec.hpp"
#include "galaxy/redis/connection.hpp"
#include "galaxy/redis/stream_reply.hpp"

namespace galaxy::cli {

// The commands are built on the consumer SDK.
namespace redis = galaxy::redis;
using consumer::Consumer;
using consumer::ConsumerOptions;
using consumer::Delivery;
using consumer::is_start_id;
using consumer::resolve;

Result<std::optional<std::string>> parse_from(std::string_view from) {
  if (from == "now") {
    return std::optional<std::string>{};
  }
  if (from == "start") {
    return std::optional<std::string>{"0"};
  }
  if (from != "$" && is_start_id(from)) {
    return std::optional<std::string>{std::string(from)};
  }
  return make_error("--from", "must be now, start or an entry ID like 1700000000000-0");
}

namespace {

Result<redis::Connection> open_redis(const Connection& conn) {
  auto endpoint = parse_redis_url(conn.redis_url);
  if (!endpoint) {
    return endpoint.error();
  }
  return redis::Connection::open(*endpoint, conn.connect_timeout, conn.command_timeout,
                                 conn.stream);
}

// The ID of the stream's newest entry, so "now" misses nothing written after we start (XREAD
// with "$" would, between two blocking reads).
Result<std::string> newest_id(redis::Connection& redis, const std::string& stream) {
  auto reply = redis.command({"XREVRANGE", stream, "+", "-", "COUNT", "1"});
  if (!reply) {
    return reply.error();
  }
  if (redis::is_error(reply->get())) {
    return make_error("redis", fmt::format("XREVRANGE {}: {}", stream, redis::text(reply->get())));
  }
  auto entries = redis::parse_entries(reply->get());
  if (!entries) {
    return entries.error();
  }
  // Error is an aggregate, so a bare string would convert to either side of the result.
  return {boost::system::in_place_value,
          entries->empty() ? std::string("0-0") : entries->front().id};
}

bool matches(const std::vector<std::string>& allowed, std::string_view value) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

}  // namespace

int tail(const Connection& conn, const TailOptions& options, std::ostream& out, std::ostream& err,
         StopSignal& stop) {
  auto from = parse_from(options.from);
  if (!from) {
    err << "galaxy-health tail: " << from.error().message() << "\n";
    return kExitUsage;
  }
  for (const auto& t : options.types) {
    if (!contract::parse_event_type(t)) {
      err << "galaxy-health tail: --type: unknown event type " << t << "\n";
      return kExitUsage;
    }
  }
  auto redis = open_redis(conn);
  if (!redis) {
    err << "galaxy-health tail: " << redis.error().reason << "\n";
    return kExitFailure;
  }
  std::string cursor;
  if (*from) {
    cursor = **from;
  } else {
    auto newest = newest_id(*redis, conn.stream);
    if (!newest) {
      err << "galaxy-health tail: " << newest.error().reason << "\n";
      return kExitFailure;
    }
    cursor = *newest;
  }
  if (!options.json) {
    out << render_event_header(options.color) << "\n" << std::flush;
  }
  std::uint64_t printed = 0;
  while (!stop.requested()) {
    const std::vector<std::string> argv = {
        "XREAD",   "COUNT",     "100", "BLOCK", std::to_string(options.block.count()),
        "STREAMS", conn.stream, cursor};
    auto reply = redis->command(argv, options.block + conn.command_timeout);
    if (!reply) {
      err << "galaxy-health tail: " << reply.error().reason << "\n";
      return kExitFailure;
    }
    if (redis::is_error(reply->get())) {
      err << "galaxy-health tail: XREAD " << conn.stream << ": " << redis::text(reply->get())
          << "\n";
      return kExitFailure;
    }
    auto entries = redis::parse_read_reply(reply->get());
    if (!entries) {
      err << "galaxy-health tail: " << entries.error().reason << "\n";
      return kExitFailure;
    }
    for (const auto& entry : *entries) {
      cursor = entry.id;
      auto event = contract::decode_entry(entry.fields.value_or(contract::EntryFields{}));
      if (!event) {
        (options.json ? err : out)
            << render_invalid_line(entry.id, event.error(), options.color) << "\n";
        continue;
      }
      if (!matches(options.games, event->game_id) ||
          !matches(options.types, contract::to_string(event->type()))) {
        continue;
      }
      if (options.json) {
        out << contract::encode_payload(*event) << "\n";
      } else {
        out << render_event_line(entry.id, *event, options.color) << "\n";
      }
      if (options.count && ++printed >= *options.count) {
        out.flush();
        return kExitOk;
      }
    }
    out.flush();
  }
  return kExitOk;
}

int consume(const Connection& conn, const ConsumeOptions& options, std::ostream& out,
            std::ostream& err, StopSignal& stop) {
  auto from = parse_from(options.from);
  if (!from) {
    err << "galaxy-health consume: " << from.error().message() << "\n";
    return kExitUsage;
  }
  ConsumerOptions co;
  co.redis_url = conn.redis_url;
  co.stream = conn.stream;
  co.group = options.group;
  co.consumer = options.consumer;
  co.start_id = from->value_or("$");
  co.block = options.block;
  co.claim_idle = options.claim_idle;
  co.max_deliveries = options.max_deliveries;
  co.connect_timeout = conn.connect_timeout;
  co.command_timeout = conn.command_timeout;
  if (options.count) {
    // The SDK reads no more than the limit allows, so nothing is left pending on this consumer.
    co.limit = *options.count;
  }
  auto resolved = resolve(co);
  if (!resolved) {
    err << "galaxy-health consume: " << resolved.error().message() << "\n";
    return kExitUsage;
  }
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(err, true);
  auto log = std::make_shared<spdlog::logger>("consume", sink);
  log->set_pattern("galaxy-health consume: %l: %v");
  const SystemClock clock;
  std::optional<Consumer> consumer;
  auto handler = [&](const Delivery& d) {
    const auto payload = contract::encode_payload(d.event);
    bool ok = true;
    if (options.exec) {
      out.flush();
      auto outcome = run_with_stdin(*options.exec, payload + "\n", options.exec_timeout);
      if (!outcome) {
        log->error("{}: {}", d.id, outcome.error().message());
        ok = false;
      } else if (outcome->exit_code != 0) {
        log->warn("{}: command {} with {}; left pending (delivery {})", d.id,
                  outcome->timed_out ? "timed out" : "failed", outcome->exit_code,
                  d.delivery_count);
        ok = false;
      }
    } else {
      out << payload << "\n" << std::flush;
    }
    return ok;
  };
  consumer.emplace(std::move(resolved->options), handler, clock, log);
  if (auto r = consumer->ensure_group(); !r) {
    err << "galaxy-health consume: " << r.error().reason << "\n";
    return kExitFailure;
  }
  stop.on_request([&consumer] { consumer->stop(); });
  consumer->run();
  stop.on_request(nullptr);
  return kExitOk;
}

}  // namespace galaxy::cli
