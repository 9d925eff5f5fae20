// galaxy-health stats: XINFO STREAM / GROUPS / CONSUMERS.
#include <fmt/format.h>

#include <boost/json.hpp>

#include "galaxy/cli/commands.hpp"
#include "galaxy/cli/render.hpp"
#include "galaxy/redis/connection.hpp"
#include "galaxy/redis/stream_reply.hpp"

namespace galaxy::cli {

namespace redis = galaxy::redis;

namespace {

// An XINFO reply as name -> JSON value: strings, integers, nil; an entry ([id, fields]) as its ID.
boost::json::object info_object(const redisReply* reply) {
  boost::json::object o;
  for (const auto& f : redis::info_fields(reply)) {
    if (const auto n = redis::integer(f.value)) {
      o[f.name] = *n;
    } else if (redis::is_nil(f.value)) {
      o[f.name] = nullptr;
    } else if (const auto items = redis::elements(f.value); !items.empty()) {
      o[f.name] = std::string(redis::text(items.front()));
    } else {
      o[f.name] = std::string(redis::text(f.value));
    }
  }
  return o;
}

std::string show(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    return "-";
  }
  if (v->is_string()) {
    return std::string(v->get_string());
  }
  return boost::json::serialize(*v);
}

boost::json::value pick(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v == nullptr ? boost::json::value(nullptr) : *v;
}

}  // namespace

int stats(const Connection& conn, const StatsOptions& options, std::ostream& out,
          std::ostream& err) {
  auto endpoint = parse_redis_url(conn.redis_url);
  if (!endpoint) {
    err << "galaxy-health stats: --redis-url: " << endpoint.error().reason << "\n";
    return kExitUsage;
  }
  auto redis = redis::Connection::open(*endpoint, conn.connect_timeout, conn.command_timeout);
  if (!redis) {
    err << "galaxy-health stats: " << redis.error().reason << "\n";
    return kExitFailure;
  }
  auto ask = [&](std::initializer_list<std::string_view> argv) -> Result<redis::ReplyPtr> {
    auto reply = redis->command(argv);
    if (reply && redis::is_error(reply->get())) {
      return make_error("redis", fmt::format("{} {} {}: {}", *argv.begin(), *(argv.begin() + 1),
                                             conn.stream, redis::text(reply->get())));
    }
    return reply;
  };
  auto stream_reply = ask({"XINFO", "STREAM", conn.stream});
  if (!stream_reply) {
    err << "galaxy-health stats: " << stream_reply.error().reason << "\n";
    return kExitFailure;
  }
  const auto stream = info_object(stream_reply->get());
  auto groups_reply = ask({"XINFO", "GROUPS", conn.stream});
  if (!groups_reply) {
    err << "galaxy-health stats: " << groups_reply.error().reason << "\n";
    return kExitFailure;
  }
  boost::json::array groups;
  for (const redisReply* g : redis::elements(groups_reply->get())) {
    auto group = info_object(g);
    const std::string name = show(group, "name");
    auto consumers_reply = ask({"XINFO", "CONSUMERS", conn.stream, name});
    if (!consumers_reply) {
      err << "galaxy-health stats: " << consumers_reply.error().reason << "\n";
      return kExitFailure;
    }
    boost::json::array consumers;
    for (const redisReply* c : redis::elements(consumers_reply->get())) {
      const auto info = info_object(c);
      consumers.push_back(boost::json::object{{"name", pick(info, "name")},
                                              {"pending", pick(info, "pending")},
                                              {"idle_ms", pick(info, "idle")}});
    }
    groups.push_back(boost::json::object{{"name", name},
                                         {"consumers", std::move(consumers)},
                                         {"pending", pick(group, "pending")},
                                         {"last_delivered_id", pick(group, "last-delivered-id")},
                                         {"entries_read", pick(group, "entries-read")},
                                         {"lag", pick(group, "lag")}});
  }
  if (options.json) {
    const boost::json::object doc{{"stream", conn.stream},
                                  {"length", pick(stream, "length")},
                                  {"first_entry_id", pick(stream, "first-entry")},
                                  {"last_entry_id", pick(stream, "last-entry")},
                                  {"last_generated_id", pick(stream, "last-generated-id")},
                                  {"entries_added", pick(stream, "entries-added")},
                                  {"groups", groups}};
    out << boost::json::serialize(doc) << "\n" << std::flush;
    return kExitOk;
  }
  Table summary{
      {"STREAM", "LENGTH", "FIRST ENTRY", "LAST ENTRY", "ENTRIES ADDED", "GROUPS"},
      {{conn.stream, show(stream, "length"), show(stream, "first-entry"),
        show(stream, "last-entry"), show(stream, "entries-added"), std::to_string(groups.size())}}};
  Table group_table{{"GROUP", "CONSUMERS", "PENDING", "LAST DELIVERED", "LAG"}, {}};
  Table consumer_table{{"GROUP", "CONSUMER", "PENDING", "IDLE (ms)"}, {}};
  for (const auto& gv : groups) {
    const auto& g = gv.get_object();
    const auto& consumers = g.at("consumers").get_array();
    group_table.rows.push_back({show(g, "name"), std::to_string(consumers.size()),
                                show(g, "pending"), show(g, "last_delivered_id"), show(g, "lag")});
    for (const auto& cv : consumers) {
      const auto& c = cv.get_object();
      consumer_table.rows.push_back(
          {show(g, "name"), show(c, "name"), show(c, "pending"), show(c, "idle_ms")});
    }
  }
  out << render_table(summary, options.color) << "\n" << render_table(group_table, options.color);
  if (!consumer_table.rows.empty()) {
    out << "\n" << render_table(consumer_table, options.color);
  }
  out.flush();
  return kExitOk;
}

}  // namespace galaxy::cli
