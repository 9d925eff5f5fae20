#include "galaxy/web/backend.hpp"

#include <boost/json/parse.hpp>
#include <optional>
#include <utility>

#include "galaxy/contract/event.hpp"
#include "galaxy/pg/conn.hpp"
#include "galaxy/redis/connection.hpp"
#include "galaxy/redis/reply.hpp"
#include "galaxy/redis/stream_reply.hpp"
#include "galaxy/web/state.hpp"

namespace galaxy::web {

namespace {

std::vector<Frame> to_frames(std::vector<redis::StreamEntry>& entries) {
  std::vector<Frame> frames;
  frames.reserve(entries.size());
  for (auto& e : entries) {
    frames.push_back(Frame{e.id, sse_frame(e.id, e.fields.value_or(contract::EntryFields{}))});
  }
  return frames;
}

class RedisSource final : public StreamSource {
 public:
  explicit RedisSource(RedisSourceSettings s) : s_(std::move(s)) {}

  Result<std::vector<Frame>> latest(std::size_t n) override {
    const std::vector<std::string> argv{"XREVRANGE", s_.stream, "+",
                                        "-",         "COUNT",   std::to_string(n)};
    auto entries = entries_of(argv, std::nullopt, false);
    if (!entries) {
      return entries.error();
    }
    std::reverse(entries->begin(), entries->end());
    return to_frames(*entries);
  }

  Result<std::vector<Frame>> read_after(const std::string& after, std::size_t count,
                                        std::chrono::milliseconds block) override {
    const std::vector<std::string> argv{"XREAD",
                                        "COUNT",
                                        std::to_string(count),
                                        "BLOCK",
                                        std::to_string(block.count()),
                                        "STREAMS",
                                        s_.stream,
                                        after};
    auto entries = entries_of(argv, block + s_.command_timeout, true);
    if (!entries) {
      return entries.error();
    }
    return to_frames(*entries);
  }

  Result<std::vector<Frame>> range(const std::string& after, const std::string& before,
                                   std::size_t count) override {
    const std::vector<std::string> argv{"XRANGE",     s_.stream, "(" + after,
                                        "(" + before, "COUNT",   std::to_string(count)};
    auto entries = entries_of(argv, std::nullopt, false);
    if (!entries) {
      return entries.error();
    }
    return to_frames(*entries);
  }

 private:
  Result<std::vector<redis::StreamEntry>> entries_of(
      const std::vector<std::string>& argv, std::optional<std::chrono::milliseconds> timeout,
      bool read_reply) {
    if (!conn_ || conn_->broken()) {
      auto c =
          redis::Connection::open(s_.endpoint, s_.connect_timeout, s_.command_timeout, s_.stream);
      if (!c) {
        return c.error();
      }
      conn_ = std::move(*c);
    }
    auto reply = conn_->command(argv, timeout);
    if (!reply) {
      return reply.error();
    }
    if (redis::is_error(reply->get())) {
      return make_error(ErrorKind::server, "redis",
                        argv[0] + " " + s_.stream + ": " + std::string(redis::text(reply->get())));
    }
    return read_reply ? redis::parse_read_reply(reply->get()) : redis::parse_entries(reply->get());
  }

  RedisSourceSettings s_;
  std::optional<redis::Connection> conn_;
};

constexpr std::string_view kUndefinedTable = "42P01";

// The lease of a host as every reader of the fleet sees it: active while its lease runs, left
// when the last holder released it on a clean stop, lost when it ran out.
constexpr std::string_view kHostStatus =
    "CASE WHEN l.host_id IS NULL THEN 'unknown' WHEN l.lease_until > now() THEN 'active' "
    "WHEN l.holder = '' THEN 'left' ELSE 'lost' END";

class PgSource final : public SnapshotSource {
 public:
  explicit PgSource(PgSourceSettings s) : s_(std::move(s)) {}

  Result<boost::json::array> games() override {
    const pg::Query q{
        "SELECT s.game_id, s.host_id, " + std::string(kHostStatus) +
            ", s.container_id, s.event_type, s.occurred_at_ms, s.details::text, s.stream_id "
            "FROM health_snapshots s LEFT JOIN host_leases l ON l.host_id = s.host_id AND "
            "s.host_id <> '' ORDER BY s.game_id",
        {}};
    auto rows = run(q);
    if (!rows) {
      return rows.error();
    }
    if (!*rows) {
      return boost::json::array{};
    }
    const pg::Rows& table = **rows;
    boost::json::array out;
    out.reserve(static_cast<std::size_t>(table.size()));
    for (int i = 0; i < table.size(); ++i) {
      const auto type_name = table.text(i, 4);
      auto type = contract::parse_event_type(type_name);
      auto at = table.integer(i, 5);
      if (!type || !at) {
        return make_error(ErrorKind::protocol, "health_snapshots",
                          "game " + std::string(table.text(i, 0)) +
                              ": not a health event row (event_type " + std::string(type_name) +
                              ")");
      }
      boost::system::error_code ec;
      auto details = boost::json::parse(table.text(i, 6), ec);
      std::string_view inspect_state;
      if (const auto* o = details.if_object(); !ec && o != nullptr) {
        if (const auto* st = o->if_contains("state"); st != nullptr && st->is_string()) {
          inspect_state = st->get_string();
        }
      }
      const std::string status(table.text(i, 2));
      out.emplace_back(boost::json::object{
          {"game_id", table.text(i, 0)},
          {"host_id", table.text(i, 1)},
          {"host_status", status},
          {"stale", status == "lost" || status == "left"},
          {"container_id", table.text(i, 3)},
          {"event_type", type_name},
          {"state", to_string(state_after(*type, inspect_state))},
          {"occurred_at_ms", *at},
          // What the snapshot keeps is the latest event, so the state is known since then.
          {"since_ms", *at},
          {"details", ec ? boost::json::value(boost::json::object{}) : std::move(details)},
          {"stream_id", table.text(i, 7)}});
    }
    return out;
  }

  Result<boost::json::array> hosts() override {
    const pg::Query q{
        "SELECT l.host_id, " + std::string(kHostStatus) +
            ", coalesce(a.hostname, ''), coalesce(a.docker_id, ''), coalesce(a.version, ''), "
            "coalesce(floor(extract(epoch FROM a.started_at) * 1000)::bigint, 0), "
            "coalesce(floor(extract(epoch FROM a.heartbeat_at) * 1000)::bigint, 0), "
            "CASE WHEN isfinite(l.lease_until) THEN floor(extract(epoch FROM l.lease_until) * "
            "1000)::bigint ELSE 0 END, "
            "(SELECT count(*) FROM runtime_hosts r WHERE r.host_id = l.host_id AND r.status IN "
            "('active', 'standby') AND r.lease_until > now()) "
            "FROM host_leases l LEFT JOIN LATERAL (SELECT * FROM runtime_hosts r WHERE r.host_id "
            "= l.host_id ORDER BY (r.daemon_id = l.holder) DESC, r.heartbeat_at DESC LIMIT 1) a "
            "ON true ORDER BY l.host_id",
        {}};
    auto rows = run(q);
    if (!rows) {
      return rows.error();
    }
    if (!*rows) {
      return boost::json::array{};
    }
    const pg::Rows& table = **rows;
    boost::json::array out;
    for (int i = 0; i < table.size(); ++i) {
      auto integer = [&](int c) -> std::int64_t {
        auto v = table.integer(i, c);
        return v ? *v : 0;
      };
      out.emplace_back(boost::json::object{{"host_id", table.text(i, 0)},
                                           {"status", table.text(i, 1)},
                                           {"hostname", table.text(i, 2)},
                                           {"docker_id", table.text(i, 3)},
                                           {"version", table.text(i, 4)},
                                           {"started_at_ms", integer(5)},
                                           {"heartbeat_at_ms", integer(6)},
                                           {"lease_until_ms", integer(7)},
                                           {"daemons", integer(8)}});
    }
    return out;
  }

 private:
  // nullopt when the table is not there: a database no daemon has migrated yet (or one from
  // before the fleet schema) has nothing to show, which is not an error.
  Result<std::optional<pg::Rows>> run(const pg::Query& q) {
    if (!conn_ || !conn_->ok()) {
      auto c = pg::Conn::open(s_.target, s_.io_timeout);
      if (!c) {
        return c.error();
      }
      conn_ = std::move(*c);
    }
    auto rows = conn_->query(q);
    if (!rows) {
      if (rows.error().code == kUndefinedTable) {
        return std::optional<pg::Rows>{};
      }
      return rows.error();
    }
    return std::optional<pg::Rows>(std::move(*rows));
  }

  PgSourceSettings s_;
  std::optional<pg::Conn> conn_;
};

}  // namespace

std::unique_ptr<StreamSource> make_redis_source(RedisSourceSettings settings) {
  return std::make_unique<RedisSource>(std::move(settings));
}

std::unique_ptr<SnapshotSource> make_pg_source(PgSourceSettings settings) {
  return std::make_unique<PgSource>(std::move(settings));
}

}  // namespace galaxy::web
