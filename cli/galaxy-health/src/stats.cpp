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
  auto redis =
      redis::Connection::open(*endpoint, conn.connect_timeout, conn.command_timeout, conn.stream);
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
  const boost::json::object doc{{"stream", conn.stream},
                                {"length", pick(stream, "length")},
                                {"first_entry_id", pick(stream, "first-entry")},
                                {"last_entry_id", pick(stream, "last-entry")},
                                {"last_generated_id", pick(stream, "last-generated-id")},
                                {"entries_added", pick(stream, "entries-added")},
                                {"groups", std::move(groups)}};
  out << render_stats(doc, options.output) << std::flush;
  return kExitOk;
}

std::string render_stats(const boost::json::object& doc, const OutputOptions& output) {
  if (output.format == OutputFormat::json) {
    return boost::json::serialize(doc) + "\n";
  }
  const bool wide = output.format == OutputFormat::wide;
  static const boost::json::array kNone;
  const auto* groups_value = doc.if_contains("groups");
  const auto& groups =
      groups_value != nullptr && groups_value->is_array() ? groups_value->get_array() : kNone;
  auto consumers_of = [](const boost::json::object& g) -> const boost::json::array& {
    const auto* v = g.if_contains("consumers");
    return v != nullptr && v->is_array() ? v->get_array() : kNone;
  };
  Table summary{
      {"STREAM", "LENGTH", "FIRST ENTRY", "LAST ENTRY", "ENTRIES ADDED", "GROUPS"},
      {{show(doc, "stream"), show(doc, "length"), show(doc, "first_entry_id"),
        show(doc, "last_entry_id"), show(doc, "entries_added"), std::to_string(groups.size())}}};
  Table group_table{{"GROUP", "CONSUMERS", "PENDING", "LAST DELIVERED", "LAG"}, {}};
  Table consumer_table{{"GROUP", "CONSUMER", "PENDING", "IDLE (ms)"}, {}};
  if (wide) {
    summary.headers.emplace_back("LAST GENERATED");
    summary.rows[0].push_back(show(doc, "last_generated_id"));
    group_table.headers.emplace_back("ENTRIES READ");
  }
  for (const auto& gv : groups) {
    if (!gv.is_object()) {
      continue;
    }
    const auto& g = gv.get_object();
    const auto& consumers = consumers_of(g);
    group_table.rows.push_back({show(g, "name"), std::to_string(consumers.size()),
                                show(g, "pending"), show(g, "last_delivered_id"), show(g, "lag")});
    if (wide) {
      group_table.rows.back().push_back(show(g, "entries_read"));
    }
    for (const auto& cv : consumers) {
      if (cv.is_object()) {
        const auto& c = cv.get_object();
        consumer_table.rows.push_back(
            {show(g, "name"), show(c, "name"), show(c, "pending"), show(c, "idle_ms")});
      }
    }
  }
  std::vector<const Table*> tables{&summary, &group_table};
  if (!consumer_table.rows.empty()) {
    tables.push_back(&consumer_table);
  }
  std::string out;
  for (const Table* t : tables) {
    Table shown = *t;
    if (!output.headers) {
      shown.headers.clear();
    }
    const auto text = render_table(shown, output.color);
    // Without headers an empty group table prints nothing, and neither does its separator.
    if (!text.empty()) {
      out += (out.empty() ? "" : "\n") + text;
    }
  }
  return out;
}

}  // namespace galaxy::cli
