// The web server on the real Redis and PostgreSQL the harness started: games from a migrated
// database's snapshots, the event stream's backlog, a resume across a server restart (no gap, no
// duplicate) and a catch-up older than the ring, read with XRANGE from the real stream.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <functional>
#include <optional>
#include <thread>

#include "galaxy/common/redis_url.hpp"
#include "galaxy/pg/target.hpp"
#include "galaxy/publish/pg_outbox.hpp"
#include "galaxy/testsupport/backends.hpp"
#include "galaxy/testsupport/http.hpp"
#include "galaxy/testsupport/topology.hpp"
#include "galaxy/testsupport/wait.hpp"
#include "galaxy/web/server.hpp"

namespace galaxy::web {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ts = galaxy::testsupport;
using namespace std::chrono_literals;

std::vector<std::string> frame_ids(const std::string& text) {
  std::vector<std::string> out;
  for (auto at = text.find("\nid: "); at != std::string::npos; at = text.find("\nid: ", at + 1)) {
    out.push_back(text.substr(at + 5, text.find('\n', at + 5) - at - 5));
  }
  return out;
}

// An event stream read off a raw socket until the wanted id has come.
std::string read_events(std::uint16_t port, const std::string& target, const std::string& until,
                        const std::string& header = "") {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  const timeval tv{20, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + "\r\n";
  asio::write(socket, asio::buffer(req));
  std::string text;
  std::array<char, 4096> buf{};
  while (text.find("\nid: " + until + "\n") == std::string::npos) {
    boost::system::error_code ec;
    const auto n = socket.read_some(asio::buffer(buf), ec);
    if (ec) {
      ADD_FAILURE() << "the stream ended before " << until << ": " << ec.message() << "\n" << text;
      break;
    }
    text.append(buf.data(), n);
  }
  return text;
}

class WebIT : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_url_ = ts::require_env("GALAXY_REDIS_URL");
    admin_url_ = ts::require_env("GALAXY_POSTGRES_URL");
    stream_ = "itest:" + std::to_string(::getpid()) + ":web";
    db_ = "rm_web_itest_" + std::to_string(::getpid());
    db_url_ = ts::with_database(admin_url_, db_);
    ts::sql(admin_url_, "DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
    ts::sql(admin_url_, "CREATE DATABASE " + db_);
    ts::redis_command(redis_url_, {"DEL", stream_});
    auto target = pg::parse_target(db_url_);
    ASSERT_TRUE(target) << target.error().message();
    auto migrated = publish::open_migrated(*target, 10s);
    ASSERT_TRUE(migrated) << migrated.error().message();
  }
  void TearDown() override {
    stop();
    ts::redis_command(redis_url_, {"DEL", stream_});
    ts::sql(admin_url_, "DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
  }

  std::string xadd(const contract::Event& e) {
    std::vector<std::string> argv{"XADD", stream_, "*"};
    for (const auto& [k, v] : contract::encode_entry(e)) {
      argv.push_back(k);
      argv.push_back(v);
    }
    auto reply = ts::redis_command(redis_url_, argv);
    return std::string(redis::text(reply.get()));
  }
  std::string xadd_started(int n) {
    return xadd(contract::Event{"game-" + std::to_string(n), "c" + std::to_string(n), n,
                                contract::ContainerStarted{"img"}});
  }

  void start(std::size_t ring = 1000, std::uint16_t port = 0,
             const std::function<void(WebSettings&)>& adjust = {}) {
    WebSettings s;
    s.listen = "127.0.0.1:" + std::to_string(port);
    s.stream = stream_;
    s.hub.ring = ring;
    if (adjust) {
      adjust(s);
    }
    auto redis = parse_redis_url(redis_url_);
    ASSERT_TRUE(redis);
    auto target = pg::parse_target(db_url_);
    ASSERT_TRUE(target);
    const RedisSourceSettings rs{*redis, stream_, 5s, 5s};
    io_ = std::make_unique<asio::io_context>();
    auto server = WebServer::open(io_->get_executor(), s, make_redis_source(rs),
                                  make_redis_source(rs), make_pg_source({*target, 5s}));
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(*server);
    port_ = server_->local_endpoint().port();
    asio::co_spawn(*io_, server_->run(), asio::detached);
    thread_ = std::thread([this] { io_->run(); });
  }
  void stop() {
    if (thread_.joinable()) {
      asio::post(*io_, [this] { server_->stop(); });
      thread_.join();
      server_.reset();
    }
  }
  ts::HttpResponse get(const std::string& target) {
    auto r = ts::http_request("127.0.0.1", port_, http::verb::get, target, 20s);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : ts::HttpResponse{};
  }

  std::string redis_url_, admin_url_, stream_, db_, db_url_;
  // Declared before the server, so it outlives TearDown and the server that reads from it.
  std::optional<ts::Topology> topo_;
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<WebServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(WebIT, GamesAreTheSnapshotsWithTheirStateAndTheirHostsLease) {
  ts::sql(db_url_,
          "INSERT INTO host_leases (host_id, epoch, holder, lease_until) VALUES "
          "('host-a', 1, 'd1', now() + interval '1 hour'), ('host-b', 1, 'd2', now() - interval "
          "'1 minute')");
  ts::sql(db_url_,
          "INSERT INTO runtime_hosts (daemon_id, host_id, hostname, version, status, lease_until) "
          "VALUES ('d1', 'host-a', 'machine-a', '0.1.0', 'active', now() + interval '1 hour')");
  ts::sql(db_url_,
          "INSERT INTO health_snapshots (game_id, container_id, event_type, occurred_at_ms, "
          "details, stream_id, seq, host_id) VALUES "
          "('g-a', 'ca', 'probe_failed', 1000, "
          "'{\"consecutive_failures\":3,\"last_status\":503,\"last_error\":\"\"}', '5-0', 1, "
          "'host-a'), ('g-b', 'cb', 'container_exited', 2000, '{\"exit_code\":137,\"oom\":true}', "
          "'6-0', 2, 'host-b')");
  start();
  const auto games = get("/api/v1/games");
  ASSERT_EQ(games.status, 200U) << games.body;
  const auto list = boost::json::parse(games.body).at("games").as_array();
  ASSERT_EQ(list.size(), 2U);
  EXPECT_EQ(list[0].at("game_id"), "g-a");
  EXPECT_EQ(list[0].at("state"), "unhealthy");
  EXPECT_EQ(list[0].at("host_status"), "active");
  EXPECT_EQ(list[0].at("stale"), false);
  EXPECT_EQ(list[0].at("details").at("last_status"), 503);
  EXPECT_EQ(list[1].at("state"), "exited");
  EXPECT_EQ(list[1].at("host_status"), "lost");
  EXPECT_EQ(list[1].at("stale"), true);

  const auto hosts = get("/api/v1/hosts");
  ASSERT_EQ(hosts.status, 200U) << hosts.body;
  const auto h = boost::json::parse(hosts.body).at("hosts").as_array();
  ASSERT_EQ(h.size(), 2U);
  EXPECT_EQ(h[0].at("host_id"), "host-a");
  EXPECT_EQ(h[0].at("hostname"), "machine-a");
  EXPECT_EQ(h[0].at("daemons"), 1);
  EXPECT_EQ(h[1].at("status"), "lost");
}

TEST_F(WebIT, ADatabaseNoDaemonHasMigratedShowsNoGamesAndNoHosts) {
  ts::sql(admin_url_, "DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
  ts::sql(admin_url_, "CREATE DATABASE " + db_);
  start();
  const auto games = get("/api/v1/games");
  ASSERT_EQ(games.status, 200U) << games.body;
  EXPECT_TRUE(boost::json::parse(games.body).at("games").as_array().empty());
  const auto hosts = get("/api/v1/hosts");
  ASSERT_EQ(hosts.status, 200U) << hosts.body;
  EXPECT_TRUE(boost::json::parse(hosts.body).at("hosts").as_array().empty());
}

TEST_F(WebIT, AResumeAcrossAServerRestartHasNoGapAndNoDuplicate) {
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) {
    ids.push_back(xadd_started(i));
  }
  start();
  auto fresh = read_events(port_, "/api/v1/events?backlog=2", ids.back());
  EXPECT_EQ(frame_ids(fresh), (std::vector<std::string>{ids[3], ids[4]}));

  const std::uint16_t port = port_;
  stop();
  for (int i = 6; i <= 9; ++i) {
    ids.push_back(xadd_started(i));  // written while the server is down
  }
  start(1000, port);
  auto resumed =
      read_events(port_, "/api/v1/events", ids.back(), "Last-Event-ID: " + ids[4] + "\r\n");
  EXPECT_EQ(frame_ids(resumed), std::vector<std::string>(ids.begin() + 5, ids.end()));
}

// The page's stream through a Sentinel URL, and on after the master's death: entries written to
// the promoted replica are served to a page that resumes, none twice.
TEST_F(WebIT, EventsComeThroughASentinelAndGoOnAfterItsFailover) {
  ts::redis_command(redis_url_, {"DEL", stream_});
  topo_.emplace(ts::Topology::up("sentinel"));
  redis_url_ = topo_->value("SENTINEL_URL");
  std::vector<std::string> ids;
  for (int i = 1; i <= 3; ++i) {
    ids.push_back(xadd_started(i));
  }
  const std::string replica = topo_->value("REPLICA_URL");
  ASSERT_TRUE(ts::eventually(
      [&] {
        return redis::integer(ts::redis_command(replica, {"XLEN", stream_}).get()) == 3;
      },
      20s, 50ms))
      << "the replica did not get the first entries";
  start();
  auto fresh = read_events(port_, "/api/v1/events?backlog=3", ids.back());
  EXPECT_EQ(frame_ids(fresh), ids);

  topo_->kill_master();
  const std::size_t before = ids.size();
  ASSERT_TRUE(ts::eventually(
      [&] {
        try {
          ids.push_back(xadd_started(static_cast<int>(ids.size()) + 1));
          return ids.size() == before + 2;
        } catch (const std::exception&) {
          return false;  // no master yet
        }
      },
      60s, 200ms));
  auto resumed = read_events(port_, "/api/v1/events?last_event_id=" + ids[before - 1], ids.back());
  EXPECT_EQ(frame_ids(resumed), std::vector<std::string>(ids.begin() + before, ids.end()));
}

TEST_F(WebIT, AResumeOlderThanTheRingIsReadFromTheStream) {
  std::vector<std::string> ids;
  for (int i = 1; i <= 1200; ++i) {
    ids.push_back(xadd_started(i));
  }
  start(100);  // the ring holds the last 100; the rest come by XRANGE, 500 at a time
  auto text = read_events(port_, "/api/v1/events?last_event_id=" + ids[9], ids.back());
  EXPECT_EQ(frame_ids(text), std::vector<std::string>(ids.begin() + 10, ids.end()));
  EXPECT_EQ(text.find("event: invalid"), std::string::npos);
}

TEST_F(WebIT, AnEntryThatIsNoHealthEventIsShownAsInvalidWithItsId) {
  start();
  const auto ok = xadd_started(1);
  auto reply = ts::redis_command(redis_url_, {"XADD", stream_, "*", "game_id", "g", "oops", "1"});
  const std::string bad(redis::text(reply.get()));
  auto text = read_events(port_, "/api/v1/events?last_event_id=0-0", bad);
  EXPECT_EQ(frame_ids(text), (std::vector<std::string>{ok, bad}));
  EXPECT_NE(text.find("event: invalid"), std::string::npos);
}

TEST_F(WebIT, AnIdleEventStreamOutlivesItsWriteDeadlineOnHeartbeats) {
  start(1000, 0, [](WebSettings& s) {
    s.write_timeout = 100ms;
    s.heartbeat = 400ms;
  });
  // Three heartbeats: a stream cut by its last write's deadline would end before the second.
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port_});
  const timeval tv{20, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  asio::write(socket, asio::buffer(std::string(
                          "GET /api/v1/events?backlog=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")));
  std::string text;
  std::array<char, 4096> buf{};
  auto beats = [&] {
    std::size_t n = 0;
    for (auto at = text.find(": heartbeat"); at != std::string::npos;
         at = text.find(": heartbeat", at + 1)) {
      ++n;
    }
    return n;
  };
  while (beats() < 3) {
    boost::system::error_code ec;
    const auto n = socket.read_some(asio::buffer(buf), ec);
    ASSERT_FALSE(ec) << "the stream ended after " << beats() << " heartbeats: " << ec.message();
    text.append(buf.data(), n);
  }
  const auto id = xadd_started(1);
  while (text.find("id: " + id) == std::string::npos) {
    boost::system::error_code ec;
    const auto n = socket.read_some(asio::buffer(buf), ec);
    ASSERT_FALSE(ec) << ec.message();
    text.append(buf.data(), n);
  }
}

}  // namespace
}  // namespace galaxy::web
