// The built galaxy-health binary against the dev Redis and PostgreSQL.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "consumer/itest_support.hpp"
#include "galaxy/pg/target.hpp"
#include "galaxy/publish/pg_outbox.hpp"
#include "galaxy/testsupport/backends.hpp"
#include "galaxy/testsupport/process.hpp"
#include "galaxy/testsupport/topology.hpp"

namespace galaxy::consumer::itest {
namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

// The whitespace-separated words of a table row (a cell with spaces spans several).
std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) {
    out.push_back(w);
  }
  return out;
}

// A database of its own, dropped at the end: the shared one belongs to the daemon's migrations,
// and fixtures written here would stand in their way.
class PrivateDb {
 public:
  explicit PrivateDb(const std::string& suffix)
      : admin_(testsupport::require_env("GALAXY_POSTGRES_URL")),
        name_("cli_itest_" + suffix + "_" + std::to_string(::getpid())) {
    testsupport::sql(admin_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    testsupport::sql(admin_, "CREATE DATABASE " + name_);
    url_ = testsupport::with_database(admin_, name_);
  }
  PrivateDb(const PrivateDb&) = delete;
  PrivateDb& operator=(const PrivateDb&) = delete;
  ~PrivateDb() {
    try {
      testsupport::sql(admin_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): best-effort cleanup
    }
  }
  const std::string& url() const { return url_; }

  // The daemon's schema, every migration applied as the daemon applies them when it starts.
  void migrate() const {
    publish::PgOutbox outbox(pg::parse_target(url_).value(), 10s, publish::HostFence{"cli", 0});
    const auto r = outbox.connect();
    ASSERT_TRUE(r) << r.error().message();
  }
  void sql(const std::string& statement) const { testsupport::sql(url_, statement); }

 private:
  std::string admin_;
  std::string name_;
  std::string url_;
};

testsupport::ProcessOutput health_pg(const std::string& url, std::vector<std::string> args) {
  args.insert(args.begin(), {GALAXY_HEALTH_BIN, "--postgres-url", url});
  return testsupport::run(args, 60s);
}

class CliItest : public StreamTest {
 protected:
  testsupport::ProcessOutput health(std::vector<std::string> args) {
    args.insert(args.begin(), {GALAXY_HEALTH_BIN, "--redis-url", redis_url(), "--stream", stream_});
    return testsupport::run(args, 60s);
  }
  std::vector<redis::PendingEntry> pending() {
    auto r = must(*redis_, {"XPENDING", stream_, "g", "-", "+", "100"});
    return *redis::parse_pending_reply(r.get());
  }
};

TEST_F(CliItest, ConsumeExecFalseLeavesTheEntryPendingAndItIsRedelivered) {
  const auto event = make_event(5);
  const auto id = xadd_event(*redis_, stream_, event);
  const std::vector<std::string> base = {"consume", "--group", "g",       "--consumer", "c",
                                         "--from",  "start",   "--count", "1"};
  auto args = base;
  args.insert(args.end(), {"--exec", "false"});
  auto out = health(args);
  ASSERT_EQ(out.exit_code, 0) << out.output;
  auto p = pending();
  ASSERT_EQ(p.size(), 1U);
  EXPECT_EQ(p[0].id, id);
  EXPECT_EQ(p[0].deliveries, 1);

  out = health(args);
  ASSERT_EQ(out.exit_code, 0) << out.output;
  p = pending();
  ASSERT_EQ(p.size(), 1U);
  EXPECT_EQ(p[0].deliveries, 2) << "the restarted consumer got its pending entry again";

  const auto file = std::filesystem::temp_directory_path() / (stream_ + ".out");
  args = base;
  args.insert(args.end(), {"--exec", "cat > '" + file.string() + "'"});
  out = health(args);
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_TRUE(pending().empty());
  std::ifstream in(file);
  std::stringstream got;
  got << in.rdbuf();
  EXPECT_EQ(got.str(), contract::encode_payload(event) + "\n");
  std::filesystem::remove(file);
}

TEST_F(CliItest, ConsumeWithoutExecPrintsAndAcks) {
  const auto event = make_event(3);
  xadd_event(*redis_, stream_, event);
  const auto out =
      health({"consume", "--group", "g", "--consumer", "c", "--from", "start", "--count", "1"});
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(out.output, contract::encode_payload(event) + "\n");
  EXPECT_TRUE(pending().empty());
}

// Two members whose --count together cover the stream both finish, each handing over exactly what
// it read: a member that fetched past its count would strand entries on itself, and the other
// could only get them by a claim (an hour away here), so the deadline below would pass.
TEST_F(CliItest, ConsumersWithCountsCoveringTheStreamFinishWithoutAClaim) {
  std::set<std::string> expected;
  const auto poison = poison_entries();
  for (int i = 0; i < 200; ++i) {
    if (i % 70 == 35) {
      xadd_fields(*redis_, stream_, poison[static_cast<std::size_t>(i / 70)]);
    }
    const auto e = make_event(i);
    xadd_event(*redis_, stream_, e);
    expected.insert(contract::encode_payload(e));
  }
  auto member = [&](const std::string& name) {
    return std::make_unique<testsupport::Child>(std::vector<std::string>{
        GALAXY_HEALTH_BIN, "--redis-url", redis_url(), "--stream", stream_, "consume", "--group",
        "g", "--consumer", name, "--from", "start", "--count", "100", "--claim-idle", "1h"});
  };
  auto first = member("c1");
  auto second = member("c2");
  std::set<std::string> got;
  std::size_t printed = 0;
  for (auto* c : {first.get(), second.get()}) {
    const auto out = c->read_all(90s);
    const auto status = c->wait(5s);
    ASSERT_TRUE(status.has_value()) << "a consumer is still waiting (for a claim?):\n" << out;
    ASSERT_EQ(*status, 0) << out;
    for (const auto& line : lines(out)) {
      if (line.starts_with("{")) {
        got.insert(line);
        ++printed;
      }
    }
  }
  EXPECT_EQ(printed, 200U) << "each event handed over once";
  EXPECT_EQ(got, expected);
  EXPECT_TRUE(pending().empty());
  EXPECT_EQ(stream_length(*redis_, stream_ + ":dead"), 3);
}

TEST_F(CliItest, TailJsonPrintsCanonicalPayloadsAndReportsInvalidEntries) {
  const auto e1 = make_event(1);
  const auto e2 = make_event(2);
  xadd_event(*redis_, stream_, e1);
  const auto bad = xadd_fields(*redis_, stream_, poison_entries()[1]);
  xadd_event(*redis_, stream_, e2);
  const auto out = health({"tail", "--from", "start", "--json", "--count", "2"});
  ASSERT_EQ(out.exit_code, 0) << out.output;
  const auto expected_invalid =
      "invalid " + bad + ": " + contract::decode_entry(poison_entries()[1]).error().message();
  EXPECT_EQ(lines(out.output),
            (std::vector<std::string>{contract::encode_payload(e1), expected_invalid,
                                      contract::encode_payload(e2)}));
}

TEST_F(CliItest, TailFiltersByGameAndTypeAndRendersATable) {
  for (int i = 0; i < 21; ++i) {
    xadd_event(*redis_, stream_, make_event(i));
  }
  // make_event(i): game-(i % 7), and the variant also follows i % 7.
  auto out = health({"tail", "--from", "start", "--json", "--count", "3", "--game", "game-2",
                     "--game", "game-4"});
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(lines(out.output), (std::vector<std::string>{contract::encode_payload(make_event(2)),
                                                         contract::encode_payload(make_event(4)),
                                                         contract::encode_payload(make_event(9))}));
  out = health({"tail", "--from", "start", "--count", "1", "--type", "probe_failed"});
  ASSERT_EQ(out.exit_code, 0) << out.output;
  const auto table = lines(out.output);
  ASSERT_EQ(table.size(), 2U) << out.output;
  EXPECT_EQ(table[0].rfind("ID", 0), 0U);
  EXPECT_NE(table[1].find("probe_failed"), std::string::npos);
  EXPECT_NE(table[1].find("game-5"), std::string::npos);
  EXPECT_EQ(out.output.find('\x1b'), std::string::npos) << "no colors when not a terminal";
}

TEST_F(CliItest, StatsReportsGroupsPendingAndLag) {
  for (int i = 0; i < 5; ++i) {
    xadd_event(*redis_, stream_, make_event(i));
  }
  must(*redis_, {"XGROUP", "CREATE", stream_, "g", "0"});
  must(*redis_, {"XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", stream_, ">"});
  const auto out = health({"stats", "--json"});
  ASSERT_EQ(out.exit_code, 0) << out.output;
  const auto doc = boost::json::parse(out.output).as_object();
  EXPECT_EQ(doc.at("length").as_int64(), 5);
  const auto& groups = doc.at("groups").as_array();
  ASSERT_EQ(groups.size(), 1U);
  const auto& g = groups[0].as_object();
  EXPECT_EQ(g.at("name").as_string(), "g");
  EXPECT_EQ(g.at("pending").as_int64(), 2);
  EXPECT_EQ(g.at("lag").as_int64(), 3);
  EXPECT_EQ(g.at("consumers").as_array()[0].as_object().at("name").as_string(), "c1");
  const auto table = health({"stats"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("c1"), std::string::npos);
  EXPECT_EQ(table.output.find("ENTRIES READ"), std::string::npos) << table.output;
  const auto wide = health({"stats", "-o", "wide"});
  ASSERT_EQ(wide.exit_code, 0) << wide.output;
  EXPECT_NE(wide.output.find("LAST GENERATED"), std::string::npos) << wide.output;
  EXPECT_NE(wide.output.find("ENTRIES READ"), std::string::npos) << wide.output;
  const auto bare = health({"stats", "--no-headers"});
  ASSERT_EQ(bare.exit_code, 0) << bare.output;
  EXPECT_EQ(bare.output.find("STREAM"), std::string::npos) << bare.output;
  EXPECT_EQ(lines(bare.output)[0].rfind(stream_ + "  5", 0), 0U) << bare.output;
  // --json is -o json under its old name.
  const auto o_json = health({"stats", "-o", "json"});
  ASSERT_EQ(o_json.exit_code, 0) << o_json.output;
  auto without_idle = [](const std::string& text) {
    auto d = boost::json::parse(text).as_object();
    for (auto& g : d.at("groups").as_array()) {
      for (auto& c : g.as_object().at("consumers").as_array()) {
        c.as_object().erase("idle_ms");  // it moves between the two runs
      }
    }
    return d;
  };
  EXPECT_EQ(without_idle(o_json.output), without_idle(out.output));
}

// tail, consume and stats through a Sentinel and a Cluster URL: the commands share the one Redis
// layer, which finds the master (or the stream's slot owner) itself.
TEST_F(CliItest, TailConsumeAndStatsTakeSentinelAndClusterUrls) {
  for (const auto& [kind, key] :
       {std::pair{"sentinel", "SENTINEL_URL"}, std::pair{"cluster", "CLUSTER_URL"}}) {
    SCOPED_TRACE(kind);
    auto topo = testsupport::Topology::up(kind);
    const std::string url = topo.value(key);
    auto conn = redis::Connection::open(parse_redis_url(url).value(), 5s, 5s, stream_);
    ASSERT_TRUE(conn) << conn.error().message();
    std::vector<std::string> want;
    for (int i = 0; i < 3; ++i) {
      xadd_event(*conn, stream_, make_event(i));
      want.push_back(contract::encode_payload(make_event(i)));
    }
    const auto run = [&](std::vector<std::string> args) {
      args.insert(args.begin(), {GALAXY_HEALTH_BIN, "--redis-url", url, "--stream", stream_});
      return testsupport::run(args, 60s);
    };
    const auto tail = run({"tail", "--from", "start", "--json", "--count", "3"});
    ASSERT_EQ(tail.exit_code, 0) << tail.output;
    EXPECT_EQ(lines(tail.output), want);
    const auto consume =
        run({"consume", "--group", "g", "--consumer", "c", "--from", "start", "--count", "3"});
    EXPECT_EQ(consume.exit_code, 0) << consume.output;
    EXPECT_EQ(lines(consume.output), want);
    const auto stats = run({"stats", "--json"});
    ASSERT_EQ(stats.exit_code, 0) << stats.output;
    const auto doc = boost::json::parse(stats.output).as_object();
    EXPECT_EQ(doc.at("length").as_int64(), 3);
    EXPECT_EQ(doc.at("groups").as_array()[0].as_object().at("pending").as_int64(), 0);
  }
}

TEST_F(CliItest, UsageErrorsExitTwo) {
  EXPECT_EQ(health({"tail", "--type", "bogus"}).exit_code, 2);
  EXPECT_EQ(health({"tail", "--from", "yesterday"}).exit_code, 2);
  EXPECT_EQ(health({"consume", "--consumer", "c"}).exit_code, 2);
  EXPECT_EQ(health({"nonsense"}).exit_code, 2);
}

TEST_F(CliItest, AnUnreachableRedisIsAFailureWithoutThePassword) {
  const auto out = testsupport::run(
      {GALAXY_HEALTH_BIN, "--redis-url", "redis://u:hunter2@127.0.0.1:1", "stats"}, 60s);
  EXPECT_EQ(out.exit_code, 1) << out.output;
  EXPECT_EQ(out.output.find("hunter2"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("***"), std::string::npos) << out.output;
}

TEST_F(CliItest, SnapshotReadsHealthSnapshots) {
  const PrivateDb db("snap");
  ASSERT_NO_FATAL_FAILURE(db.migrate());
  const std::string& url = db.url();
  const std::string g1 = stream_ + ":g1";
  const std::string g2 = stream_ + ":g2";
  // Rows written before the fleet release: host_id '' (the migration's default).
  db.sql(
      "INSERT INTO health_snapshots (game_id, container_id, event_type, occurred_at_ms, "
      "details, stream_id, seq, updated_at) VALUES ('" +
      g1 +
      "', 'c1', 'probe_failed', 1775121810000, "
      "'{\"consecutive_failures\":3,\"last_status\":0,\"last_error\":\"x\"}', "
      "'1-0', 7, '2026-04-02T09:23:31Z'), ('" +
      g2 + "', 'c2', 'container_disappeared', 5, '{}', '2-0', 8, now())");
  const auto out = testsupport::run(
      {GALAXY_HEALTH_BIN, "--postgres-url", url, "snapshot", g1, g2, "--json"}, 60s);
  const auto table =
      testsupport::run({GALAXY_HEALTH_BIN, "--postgres-url", url, "snapshot", g1}, 60s);
  const auto wide = testsupport::run(
      {GALAXY_HEALTH_BIN, "--postgres-url", url, "snapshot", g1, "-o", "wide", "--no-headers"},
      60s);
  const auto missing = testsupport::run(
      {GALAXY_HEALTH_BIN, "--postgres-url", url, "snapshot", g1, stream_ + ":nope"}, 60s);

  ASSERT_EQ(out.exit_code, 0) << out.output;
  const auto rows = lines(out.output);
  ASSERT_EQ(rows.size(), 2U) << out.output;
  const auto first = boost::json::parse(rows[0]).as_object();
  EXPECT_EQ(first.at("game_id").as_string(), g1);
  EXPECT_EQ(first.at("event_type").as_string(), "probe_failed");
  EXPECT_EQ(first.at("occurred_at_ms").as_int64(), 1775121810000);
  EXPECT_EQ(first.at("details").as_object().at("consecutive_failures").as_int64(), 3);
  EXPECT_EQ(first.at("seq").as_int64(), 7);
  EXPECT_EQ(first.at("updated_at").as_string(), "2026-04-02T09:23:31.000Z");
  EXPECT_EQ(boost::json::parse(rows[1]).as_object().at("details").as_object().size(), 0U);
  EXPECT_EQ(first.at("host_id").as_string(), "");
  EXPECT_EQ(first.at("host_status").as_string(), "unknown");
  EXPECT_FALSE(first.at("stale").as_bool());

  ASSERT_EQ(table.exit_code, 0) << table.output;
  ASSERT_EQ(lines(table.output).size(), 2U) << table.output;
  EXPECT_NE(table.output.find("2026-04-02T09:23:30.000Z"), std::string::npos) << table.output;
  EXPECT_EQ(table.output.find("2026-04-02T09:23:31.000Z"), std::string::npos) << table.output;
  ASSERT_EQ(wide.exit_code, 0) << wide.output;
  ASSERT_EQ(lines(wide.output).size(), 1U) << wide.output;
  EXPECT_EQ(wide.output.rfind(g1 + "  c1  probe_failed  2026-04-02T09:23:30.000Z  -  no  {", 0), 0U)
      << wide.output;
  EXPECT_NE(wide.output.find("}  1-0  7  2026-04-02T09:23:31.000Z\n"), std::string::npos)
      << wide.output;

  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("no snapshot for game " + stream_ + ":nope"), std::string::npos);
}

// Three hosts on the database's clock: host-a's lease runs (its active daemon holds it, a standby
// waits, an older daemon left), host-b's ran out a minute ago with its holder still named (lost),
// host-c's was released at a clean stop (left). Snapshots of their games follow their leases;
// one written before the fleet release and one of a host without a lease row are unknown.
TEST_F(CliItest, HostsAndSnapshotStalenessFollowTheLeases) {
  const PrivateDb db("fleet");
  ASSERT_NO_FATAL_FAILURE(db.migrate());
  const std::string a1 = "3f2a9c1b-7d4e-4f60-8182-93a4b5c6d7e8";
  const std::string a2 = "77aa01bc-9d3e-4000-8000-000000000002";
  const std::string a0 = "0a0a0a0a-0000-4000-8000-000000000000";
  const std::string b1 = "b1b1b1b1-0000-4000-8000-000000000001";
  const std::string c1 = "c1c1c1c1-0000-4000-8000-000000000001";
  db.sql(
      "INSERT INTO host_leases (host_id, epoch, holder, lease_until) VALUES "
      "('host-a', 3, '" +
      a1 +
      "', now() + interval '1 minute'), "
      "('host-b', 2, '" +
      b1 +
      "', now() - interval '1 minute'), "
      "('host-c', 5, '', now() - interval '2 hours')");
  const std::string cols =
      "INSERT INTO runtime_hosts (daemon_id, host_id, hostname, docker_id, version, started_at, "
      "heartbeat_at, lease_until, status, epoch) VALUES ";
  db.sql(cols + "('" + a1 +
         "', 'host-a', 'node-1', 'DOCKER-A1', '0.2.0', now() - interval '3 hours', "
         "now() - interval '3 seconds', now() + interval '1 minute', 'active', 3), ('" +
         a2 +
         "', 'host-a', 'node-2', 'DOCKER-A2', '0.2.0', now() - interval '1 hour', "
         "now() - interval '2 seconds', now() + interval '1 minute', 'standby', 0), ('" +
         a0 +
         "', 'host-a', 'node-1', '', '0.1.9', now() - interval '3 days', "
         "now() - interval '3 hours', now() - interval '3 hours', 'left', 2), ('" +
         b1 +
         "', 'host-b', 'node-3', 'DOCKER-B1', '0.2.0', now() - interval '1 day', "
         "now() - interval '75 seconds', now() - interval '1 minute', 'active', 2), ('" +
         c1 +
         "', 'host-c', 'node-4', 'DOCKER-C1', '0.2.0', now() - interval '5 hours', "
         "now() - interval '2 hours', now() - interval '2 hours', 'left', 5)");
  db.sql(
      "INSERT INTO health_snapshots (game_id, container_id, event_type, occurred_at_ms, details, "
      "stream_id, seq, host_id) VALUES "
      "('g-a', 'ca', 'probe_failed', 1775121810000, '{}', '1-0', 1, 'host-a'), "
      "('g-b', 'cb', 'probe_failed', 1775121810000, '{}', '2-0', 2, 'host-b'), "
      "('g-c', 'cc', 'probe_failed', 1775121810000, '{}', '3-0', 3, 'host-c'), "
      "('g-old', 'co', 'probe_failed', 1775121810000, '{}', '4-0', 4, ''), "
      "('g-z', 'cz', 'probe_failed', 1775121810000, '{}', '5-0', 5, 'host-z')");

  const auto table = health_pg(db.url(), {"hosts"});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  const auto t = lines(table.output);
  ASSERT_EQ(t.size(), 6U) << table.output;
  EXPECT_EQ(words(t[0]), (std::vector<std::string>{"HOST", "STATUS", "DAEMON", "HOSTNAME",
                                                   "VERSION", "HEARTBEAT", "LEASE"}));
  // host_id, then the active one first, then daemon_id; a daemon stored active whose lease ran
  // out is lost; "*" marks the lease holder.
  const std::vector<std::vector<std::string>> expected{
      {"host-a", "active", a1.substr(0, 12) + "*", "node-1", "0.2.0"},
      {"host-a", "left", a0.substr(0, 12), "node-1", "0.1.9"},
      {"host-a", "standby", a2.substr(0, 12), "node-2", "0.2.0"},
      {"host-b", "lost", b1.substr(0, 12), "node-3", "0.2.0"},
      {"host-c", "left", c1.substr(0, 12), "node-4", "0.2.0"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto w = words(t[i + 1]);
    ASSERT_GE(w.size(), 5U) << t[i + 1];
    EXPECT_EQ(std::vector<std::string>(w.begin(), w.begin() + 5), expected[i]) << t[i + 1];
  }
  EXPECT_NE(t[1].find(" ago  "), std::string::npos) << t[1];  // the heartbeat's age
  EXPECT_EQ(t[1].find("expired"), std::string::npos) << t[1];
  EXPECT_NE(t[4].find("1m15s ago  expired 1m0s ago"), std::string::npos) << t[4];

  const auto json = health_pg(db.url(), {"hosts", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  ASSERT_EQ(lines(json.output).size(), 1U) << json.output;
  const auto doc = boost::json::parse(json.output).as_array();
  ASSERT_EQ(doc.size(), 5U) << json.output;
  const auto& active = doc[0].as_object();
  EXPECT_EQ(active.at("daemon_id").as_string(), a1);
  EXPECT_EQ(active.at("status").as_string(), "active");
  EXPECT_TRUE(active.at("lease_holder").as_bool());
  EXPECT_EQ(active.at("epoch").as_int64(), 3);
  EXPECT_EQ(active.at("docker_id").as_string(), "DOCKER-A1");
  EXPECT_GE(active.at("heartbeat_age_ms").as_int64(), 3000);
  EXPECT_LT(active.at("heartbeat_age_ms").as_int64(), 60000);
  EXPECT_GT(active.at("lease_left_ms").as_int64(), 0);
  EXPECT_LE(active.at("lease_left_ms").as_int64(), 60000);
  EXPECT_TRUE(std::regex_match(std::string(active.at("started_at").as_string()),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << active.at("started_at");
  const auto& standby = doc[2].as_object();
  EXPECT_EQ(standby.at("status").as_string(), "standby");
  EXPECT_FALSE(standby.at("lease_holder").as_bool());
  const auto& lost = doc[3].as_object();
  EXPECT_EQ(lost.at("daemon_id").as_string(), b1);
  EXPECT_EQ(lost.at("status").as_string(), "lost");
  EXPECT_EQ(lost.at("stored_status").as_string(), "active");
  EXPECT_FALSE(lost.at("lease_holder").as_bool()) << "its host's lease ran out";
  EXPECT_LE(lost.at("lease_left_ms").as_int64(), -60000);
  EXPECT_EQ(doc[4].as_object().at("status").as_string(), "left");

  const auto wide = health_pg(db.url(), {"hosts", "-o", "wide", "--no-headers"});
  ASSERT_EQ(wide.exit_code, 0) << wide.output;
  const auto wl = lines(wide.output);
  ASSERT_EQ(wl.size(), 5U) << wide.output;
  EXPECT_NE(wl[0].find("  DOCKER-A1  3  "), std::string::npos) << wl[0];
  EXPECT_TRUE(wl[0].ends_with("Z  " + a1)) << wl[0];

  const auto snap_json = health_pg(db.url(), {"snapshot", "--json"});
  ASSERT_EQ(snap_json.exit_code, 0) << snap_json.output;
  const auto snaps = lines(snap_json.output);
  ASSERT_EQ(snaps.size(), 5U) << snap_json.output;
  const std::vector<std::tuple<std::string, std::string, std::string, bool>> states{
      {"g-a", "host-a", "active", false},
      {"g-b", "host-b", "lost", true},
      {"g-c", "host-c", "left", true},
      {"g-old", "", "unknown", false},
      {"g-z", "host-z", "unknown", false}};
  for (std::size_t i = 0; i < states.size(); ++i) {
    const auto o = boost::json::parse(snaps[i]).as_object();
    const auto& [game, host, status, stale] = states[i];
    EXPECT_EQ(o.at("game_id").as_string(), game);
    EXPECT_EQ(o.at("host_id").as_string(), host) << game;
    EXPECT_EQ(o.at("host_status").as_string(), status) << game;
    EXPECT_EQ(o.at("stale").as_bool(), stale) << game;
  }
  const auto snap = health_pg(db.url(), {"snapshot", "g-a", "g-b", "g-old"});
  ASSERT_EQ(snap.exit_code, 0) << snap.output;
  const auto st = lines(snap.output);
  ASSERT_EQ(st.size(), 4U) << snap.output;
  EXPECT_EQ(words(st[0]), (std::vector<std::string>{"GAME", "CONTAINER", "TYPE", "OCCURRED",
                                                    "(UTC)", "HOST", "STALE"}));
  EXPECT_TRUE(st[1].ends_with("  host-a  no")) << st[1];
  EXPECT_TRUE(st[2].ends_with("  host-b  yes")) << st[2];
  EXPECT_TRUE(st[3].ends_with("  -       no")) << st[3];
}

TEST_F(CliItest, HostsOfAnEmptyFleetIsTheHeaderOnly) {
  const PrivateDb db("empty");
  ASSERT_NO_FATAL_FAILURE(db.migrate());
  auto out = health_pg(db.url(), {"hosts"});
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(out.output, "HOST  STATUS  DAEMON  HOSTNAME  VERSION  HEARTBEAT  LEASE\n");
  out = health_pg(db.url(), {"hosts", "--no-headers"});
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(out.output, "");
  out = health_pg(db.url(), {"hosts", "--json"});
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(out.output, "[]\n");
}

TEST_F(CliItest, ADatabaseWithoutTheFleetSchemaSaysHowToMigrate) {
  const PrivateDb db("prefleet");
  // health_snapshots as the release before the fleet made it: no host_id, no host_leases.
  db.sql(
      "CREATE TABLE health_snapshots (game_id text PRIMARY KEY, container_id text NOT NULL, "
      "event_type text NOT NULL, occurred_at_ms bigint NOT NULL, details jsonb NOT NULL, "
      "stream_id text NOT NULL, seq bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT "
      "now())");
  const auto hosts = health_pg(db.url(), {"hosts"});
  EXPECT_EQ(hosts.exit_code, 1) << hosts.output;
  EXPECT_EQ(
      hosts.output.rfind("galaxy-health hosts: relation \"runtime_hosts\" does not exist: ", 0), 0U)
      << hosts.output;
  EXPECT_NE(hosts.output.find("run runtime-manager serve once to migrate the schema\n"),
            std::string::npos)
      << hosts.output;
  EXPECT_EQ(lines(hosts.output).size(), 1U) << hosts.output;
  const auto snap = health_pg(db.url(), {"snapshot"});
  EXPECT_EQ(snap.exit_code, 1) << snap.output;
  EXPECT_EQ(
      snap.output.rfind("galaxy-health snapshot: relation \"host_leases\" does not exist: ", 0), 0U)
      << snap.output;
  EXPECT_NE(snap.output.find("run runtime-manager serve once to migrate the schema\n"),
            std::string::npos)
      << snap.output;
}

TEST_F(CliItest, AnUnreachableDatabaseIsAFailureWithoutThePassword) {
  for (const auto* command : {"hosts", "snapshot"}) {
    const auto out = health_pg("postgresql://u:hunter2@127.0.0.1:1/db", {command});
    EXPECT_EQ(out.exit_code, 1) << out.output;
    EXPECT_EQ(out.output.rfind(std::string("galaxy-health ") + command + ": cannot connect to ", 0),
              0U)
        << out.output;
    EXPECT_EQ(out.output.find("hunter2"), std::string::npos) << out.output;
  }
}

}  // namespace
}  // namespace galaxy::consumer::itest
