// The built galaxy-health binary against the dev Redis and PostgreSQL.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "consumer/itest_support.hpp"
#include "galaxy/testsupport/backends.hpp"
#include "galaxy/testsupport/process.hpp"

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
  // A database of its own: the shared one belongs to the daemon's migrations, and a table made
  // here by hand would stand in their way.
  const auto admin_url = testsupport::require_env("GALAXY_POSTGRES_URL");
  const std::string db = "snap_itest_" + std::to_string(::getpid());
  testsupport::sql(admin_url, "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
  testsupport::sql(admin_url, "CREATE DATABASE " + db);
  const std::string url = testsupport::with_database(admin_url, db);
  struct DropDb {
    std::string admin;
    std::string db;
    ~DropDb() {
      try {
        testsupport::sql(admin, "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
      } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): best-effort cleanup
      }
    }
  } drop{admin_url, db};
  testsupport::sql(
      url,
      "CREATE TABLE IF NOT EXISTS health_snapshots(game_id text primary key, container_id "
      "text, event_type text, occurred_at_ms bigint, details jsonb, stream_id text, seq "
      "bigint, updated_at timestamptz)");
  const std::string g1 = stream_ + ":g1";
  const std::string g2 = stream_ + ":g2";
  testsupport::sql(url,
                   "INSERT INTO health_snapshots VALUES ('" + g1 +
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

  ASSERT_EQ(table.exit_code, 0) << table.output;
  ASSERT_EQ(lines(table.output).size(), 2U) << table.output;
  EXPECT_NE(table.output.find("2026-04-02T09:23:30.000Z"), std::string::npos) << table.output;
  EXPECT_EQ(table.output.find("2026-04-02T09:23:31.000Z"), std::string::npos) << table.output;
  ASSERT_EQ(wide.exit_code, 0) << wide.output;
  ASSERT_EQ(lines(wide.output).size(), 1U) << wide.output;
  EXPECT_EQ(wide.output.rfind(g1 + "  c1  probe_failed  2026-04-02T09:23:30.000Z  {", 0), 0U)
      << wide.output;
  EXPECT_NE(wide.output.find("}  1-0  7  2026-04-02T09:23:31.000Z\n"), std::string::npos)
      << wide.output;

  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("no snapshot for game " + stream_ + ":nope"), std::string::npos);
}

}  // namespace
}  // namespace galaxy::consumer::itest
