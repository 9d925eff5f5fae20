// scripts/topology's three failover topologies really fail over: tests of the daemon's Sentinel,
// Cluster and PostgreSQL failover rely on each being ready to fail over the moment `up` returns,
// on kill-master hitting the node that is master now, and on down leaving nothing behind.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "galaxy/redis/reply.hpp"
#include "galaxy/testsupport/backends.hpp"
#include "galaxy/testsupport/process.hpp"
#include "galaxy/testsupport/topology.hpp"
#include "galaxy/testsupport/wait.hpp"

namespace {

using namespace std::chrono_literals;
namespace ts = galaxy::testsupport;
namespace redis = galaxy::redis;

// The daemon's tests expect a failover within this; sentinel and cluster take 2-5 s here.
constexpr auto kFailover = std::chrono::milliseconds(20s);

// stoi stops at the path ("/0", "/postgres") after the last host's port.
std::uint16_t port_of(const std::string& url) {
  const auto colon = url.rfind(':');
  return static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
}

std::vector<std::uint16_t> split_ports(const std::string& list) {
  std::vector<std::uint16_t> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto end = list.find(',', start);
    if (end == std::string::npos) {
      end = list.size();
    }
    out.push_back(static_cast<std::uint16_t>(std::stoi(list.substr(start, end - start))));
    start = end + 1;
  }
  return out;
}

std::string redis_url(std::uint16_t port) {
  return "redis://127.0.0.1:" + std::to_string(port);
}

// A node that is down (or just killed) is a normal state while polling, not an error.
redis::ReplyPtr try_command(std::uint16_t port, const std::vector<std::string>& argv) {
  try {
    return ts::redis_command(redis_url(port), argv);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string role(std::uint16_t port) {
  const auto reply = try_command(port, {"ROLE"});
  const auto items = redis::elements(reply.get());
  return items.empty() ? std::string() : std::string(redis::text(items[0]));
}

std::optional<std::uint16_t> sentinel_master_port(std::uint16_t sentinel) {
  const auto reply = try_command(sentinel, {"SENTINEL", "get-master-addr-by-name", "galaxy"});
  const auto items = redis::elements(reply.get());
  if (items.size() != 2) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(std::stoi(std::string(redis::text(items[1]))));
}

// The master port CLUSTER SLOTS on `node` names for `slot`.
std::optional<std::uint16_t> slot_owner(std::uint16_t node, std::int64_t slot) {
  const auto reply = try_command(node, {"CLUSTER", "SLOTS"});
  for (const auto* range : redis::elements(reply.get())) {
    const auto fields = redis::elements(range);
    if (fields.size() < 3 || redis::integer(fields[0]) > slot || redis::integer(fields[1]) < slot) {
      continue;
    }
    const auto master = redis::elements(fields[2]);
    if (master.size() >= 2 && redis::integer(master[1])) {
      return static_cast<std::uint16_t>(*redis::integer(master[1]));
    }
  }
  return std::nullopt;
}

// What still runs on the ports: redis titles name 127.0.0.1:PORT, postgres' postmaster -p PORT
// and its backends the cluster_name gxt-PORT (scripts/topology sets it).
std::string processes_on(const std::vector<std::uint16_t>& ports) {
  std::string alternatives;
  for (const auto p : ports) {
    alternatives += (alternatives.empty() ? "" : "|") + std::to_string(p);
  }
  const auto out =
      ts::run({"pgrep", "-af", "(127\\.0\\.0\\.1:|-p |gxt-)(" + alternatives + ")([^0-9]|$)"}, 10s);
  return out.exit_code == 0 ? out.output : std::string();
}

void expect_down_leaves_nothing(ts::Topology& t, const std::vector<std::uint16_t>& ports) {
  const std::string dir = t.dir();
  ASSERT_FALSE(processes_on(ports).empty()) << "the check below would prove nothing";
  t.down();
  EXPECT_EQ(processes_on(ports), "") << "down left these running";
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " is still there after down";
}

TEST(Topology, SentinelPromotesTheReplicaWhenTheMasterIsKilled) {
  auto t = ts::Topology::up("sentinel");
  const auto master = port_of(t.value("MASTER_URL"));
  const auto replica = port_of(t.value("REPLICA_URL"));
  const auto sentinels = split_ports(t.value("SENTINEL_PORTS"));
  ASSERT_EQ(sentinels.size(), 3U);
  EXPECT_EQ(t.value("MASTER_NAME"), "galaxy");
  EXPECT_TRUE(t.value("SENTINEL_URL").starts_with("redis-sentinel://127.0.0.1:"));

  auto set = ts::redis_command(t.value("MASTER_URL"), {"SET", "topology:probe", "before"});
  ASSERT_EQ(redis::text(set.get()), "OK");
  // Replication is asynchronous: without WAIT the kill could beat the write to the replica.
  auto acked = ts::redis_command(t.value("MASTER_URL"), {"WAIT", "1", "5000"});
  ASSERT_EQ(redis::integer(acked.get()), 1);

  EXPECT_EQ(t.kill_master(), master);

  EXPECT_TRUE(ts::eventually(
      [&] {
        for (const auto s : sentinels) {
          if (sentinel_master_port(s) == replica) {
            return true;
          }
        }
        return false;
      },
      kFailover, 100ms))
      << "no sentinel named the former replica " << replica << " as master";
  EXPECT_TRUE(ts::eventually([&] { return role(replica) == "master"; }, kFailover, 100ms))
      << "the promoted replica " << replica << " does not answer ROLE master";
  auto get = ts::redis_command(redis_url(replica), {"GET", "topology:probe"});
  EXPECT_EQ(redis::text(get.get()), "before");

  std::vector<std::uint16_t> ports = {master, replica};
  ports.insert(ports.end(), sentinels.begin(), sentinels.end());
  expect_down_leaves_nothing(t, ports);
}

TEST(Topology, ClusterGivesTheKilledMastersSlotANewOwner) {
  auto t = ts::Topology::up("cluster");
  const auto nodes = split_ports(t.value("NODE_PORTS"));
  ASSERT_EQ(nodes.size(), 6U);
  EXPECT_TRUE(t.value("CLUSTER_URL").starts_with("redis-cluster://127.0.0.1:"));
  const std::string key = "runtime:health_events";
  const auto slot_reply = ts::redis_command(redis_url(nodes[0]), {"CLUSTER", "KEYSLOT", key});
  const auto slot = redis::integer(slot_reply.get());
  ASSERT_TRUE(slot) << "CLUSTER KEYSLOT " << key << " answered no integer";
  const auto owner = slot_owner(nodes[0], *slot);
  ASSERT_TRUE(owner) << "no owner of slot " << *slot << " before the kill";

  const auto killed = t.kill_master(key);
  EXPECT_EQ(killed, *owner);

  std::uint16_t survivor = nodes[0] == killed ? nodes[1] : nodes[0];
  std::optional<std::uint16_t> new_owner;
  EXPECT_TRUE(ts::eventually(
      [&] {
        new_owner = slot_owner(survivor, *slot);
        return new_owner && *new_owner != killed;
      },
      kFailover, 100ms))
      << "CLUSTER SLOTS on " << survivor << " still names " << killed << " for slot " << *slot;
  ASSERT_TRUE(new_owner);
  EXPECT_EQ(role(*new_owner), "master");
  // The new owner serves the key itself (no MOVED).
  auto xadd = ts::redis_command(redis_url(*new_owner), {"XADD", key, "*", "probe", "1"});
  EXPECT_FALSE(redis::is_error(xadd.get())) << redis::text(xadd.get());

  expect_down_leaves_nothing(t, nodes);
}

TEST(Topology, PgStandbyPromotedAfterThePrimaryDiesHasTheRowAndTakesWrites) {
  auto t = ts::Topology::up("pg-pair");
  const auto primary = t.value("PRIMARY_URL");
  const auto standby = t.value("STANDBY_URL");
  EXPECT_TRUE(t.value("PG_URL").ends_with("target_session_attrs=read-write"));
  ts::sql(primary, "CREATE TABLE failover_probe (id int PRIMARY KEY, note text)");
  // synchronous_standby_names = 'standby1': this commit returns once the standby has flushed it.
  ts::sql(primary, "INSERT INTO failover_probe VALUES (1, 'before')");

  EXPECT_EQ(t.kill_master(), port_of(primary));
  t.promote();

  EXPECT_EQ(ts::sql(standby, "SELECT pg_is_in_recovery()"), (ts::SqlRows{{"f"}}));
  EXPECT_EQ(ts::sql(standby, "SELECT note FROM failover_probe WHERE id = 1"),
            (ts::SqlRows{{"before"}}));
  ts::sql(standby, "INSERT INTO failover_probe VALUES (2, 'after')");
  EXPECT_EQ(ts::sql(standby, "SELECT count(*) FROM failover_probe"), (ts::SqlRows{{"2"}}));

  expect_down_leaves_nothing(t, {port_of(primary), port_of(standby)});
}

// A topology that does not come up fails the test with the script's own words, never skips it.
TEST(Topology, UpOfAnUnknownKindThrowsWithTheScriptsOutput) {
  try {
    auto t = ts::Topology::up("no-such-kind");
    ADD_FAILURE() << "up of an unknown kind returned a topology in " << t.dir();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown argument 'no-such-kind'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
