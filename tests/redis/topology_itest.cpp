// galaxy::redis::Connection on the harness's Sentinel and Cluster topologies (scripts/topology):
// finding the master, passing over a dead sentinel, a new master after a failover, the slot's
// owner, -MOVED and -ASK followed, and a manual failover of the slot's master followed by the
// connection that was on it.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "galaxy/redis/connection.hpp"
#include "galaxy/testsupport/net.hpp"
#include "galaxy/testsupport/topology.hpp"
#include "galaxy/testsupport/wait.hpp"

namespace galaxy::redis {
namespace {

namespace ts = galaxy::testsupport;
using namespace std::chrono_literals;

Connection must_open(const std::string& url, std::string_view slot_key = {}) {
  auto c = Connection::open(parse_redis_url(url).value(), 2s, 5s, slot_key);
  if (!c) {
    throw std::runtime_error(c.error().message());
  }
  return std::move(*c);
}

std::string port_text(const std::string& url) {
  const auto colon = url.rfind(':');
  return url.substr(colon + 1, url.find('/', colon) - colon - 1);
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::istringstream in(list);
  for (std::string part; std::getline(in, part, ',');) {
    out.push_back(part);
  }
  return out;
}

TEST(RedisSentinelIT, FindsTheMasterPassingOverADeadSentinelAndFollowsAFailover) {
  auto topo = ts::Topology::up("sentinel");
  const std::string url = topo.value("SENTINEL_URL");
  // A sentinel that is not there comes first: it is passed over.
  const std::string with_dead = "redis-sentinel://127.0.0.1:" + std::to_string(ts::free_port()) +
                                "," + url.substr(std::string("redis-sentinel://").size());
  auto c = must_open(with_dead);
  const std::string master_port = port_text(topo.value("MASTER_URL"));
  EXPECT_NE(c.endpoint().find(":" + master_port + "/"), std::string::npos) << c.endpoint();
  ASSERT_TRUE(c.command({"SET", "galaxy:ha", "before"}));
  auto waited = c.command({"WAIT", "1", "2000"});
  ASSERT_TRUE(waited);
  EXPECT_EQ(integer(waited->get()), 1) << "the replica acknowledged the write";

  topo.kill_master();
  auto after = c.command({"GET", "galaxy:ha"});
  EXPECT_FALSE(after) << "a connection to a dead master fails; it never answers from elsewhere";
  EXPECT_TRUE(c.broken());

  const std::string replica_port = port_text(topo.value("REPLICA_URL"));
  std::optional<Connection> promoted;
  EXPECT_TRUE(ts::eventually(
      [&] {
        auto o = Connection::open(parse_redis_url(url).value(), 1s, 2s);
        if (o && o->endpoint().find(":" + replica_port + "/") != std::string::npos) {
          promoted = std::move(*o);
          return true;
        }
        return false;
      },
      30s, 250ms))
      << "no open reached the promoted replica";
  ASSERT_TRUE(promoted);
  auto kept = promoted->command({"GET", "galaxy:ha"});
  ASSERT_TRUE(kept);
  EXPECT_EQ(text(kept->get()), "before");
  EXPECT_TRUE(promoted->command({"SET", "galaxy:ha", "after"}));
}

TEST(RedisSentinelIT, AnUnknownMasterNameIsAnIoErrorNamingIt) {
  auto topo = ts::Topology::up("sentinel");
  std::string url = topo.value("SENTINEL_URL");
  url = url.substr(0, url.rfind('/')) + "/nosuchmaster";
  auto c = Connection::open(parse_redis_url(url).value(), 2s, 2s);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::io);
  EXPECT_NE(c.error().reason.find("does not know master 'nosuchmaster'"), std::string::npos)
      << c.error().reason;
}

class RedisClusterIT : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { topo_ = new ts::Topology(ts::Topology::up("cluster")); }
  static void TearDownTestSuite() {
    delete topo_;
    topo_ = nullptr;
  }
  static std::string node_url(const std::string& port) { return "redis://127.0.0.1:" + port; }
  // The node that masters `slot` right now, by port.
  static std::string owner_of(int slot) {
    auto any = must_open(node_url(split(topo_->value("NODE_PORTS")).front()));
    auto slots = any.command({"CLUSTER", "SLOTS"});
    for (const redisReply* range : elements(slots->get())) {
      const auto f = elements(range);
      if (*integer(f[0]) <= slot && slot <= *integer(f[1])) {
        return std::to_string(*integer(elements(f[2])[1]));
      }
    }
    return "";
  }
  static ts::Topology* topo_;
};
ts::Topology* RedisClusterIT::topo_ = nullptr;

TEST_F(RedisClusterIT, OurKeySlotIsTheServersForEveryKindOfKey) {
  auto c = must_open(topo_->value("CLUSTER_URL"));
  for (const char* key : {"runtime:health_events", "{runtime:health_events}:hwm:h", "foo{}{bar}",
                          "foo{{bar}}zap", "foo{bar", "{}", "", "123456789", "\xff\x01"}) {
    auto r = c.command({"CLUSTER", "KEYSLOT", key});
    ASSERT_TRUE(r);
    EXPECT_EQ(integer(r->get()), Connection::key_slot(key)) << key;
  }
}

TEST_F(RedisClusterIT, ConnectsToTheSlotsOwnerAndFollowsMovedForOtherSlots) {
  const std::string stream = "cluster-itest:stream";
  auto c = must_open(topo_->value("CLUSTER_URL"), stream);
  const std::string owner = owner_of(Connection::key_slot(stream));
  EXPECT_NE(c.endpoint().find(":" + owner + "/"), std::string::npos) << c.endpoint();
  ASSERT_TRUE(c.command({"XADD", stream, "*", "k", "v"}));
  EXPECT_EQ(c.redirects(), 0U) << "the stream's own node needs no redirect";

  // A key of a slot another master owns: MOVED, followed, and the connection stays home.
  std::string other;
  for (int i = 0; other.empty(); ++i) {
    const std::string k = "other-" + std::to_string(i);
    if (owner_of(Connection::key_slot(k)) != owner) {
      other = k;
    }
  }
  auto set = c.command({"SET", other, "x"});
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(text(set->get()), "OK");
  EXPECT_EQ(c.redirects(), 1U);
  EXPECT_NE(c.endpoint().find(":" + owner + "/"), std::string::npos) << c.endpoint();
  // A pipeline mixing both: each reply in its place.
  const std::vector<Argv> cmds{{"GET", other}, {"XLEN", stream}};
  auto replies = c.pipeline(cmds);
  ASSERT_TRUE(replies);
  EXPECT_EQ(text((*replies)[0].get()), "x");
  EXPECT_EQ(integer((*replies)[1].get()), 1);
}

TEST_F(RedisClusterIT, FollowsAskWhileASlotMigrates) {
  const std::string key = "ask-itest-key";
  const int slot = Connection::key_slot(key);
  const std::string from = owner_of(slot);
  std::string to;
  for (const auto& p : split(topo_->value("NODE_PORTS"))) {
    auto n = must_open(node_url(p));
    auto role = n.command({"ROLE"});
    if (p != from && text(elements(role->get())[0]) == "master") {
      to = p;
      break;
    }
  }
  ASSERT_FALSE(to.empty());
  auto src = must_open(node_url(from));
  auto dst = must_open(node_url(to));
  const std::string src_id(text(src.command({"CLUSTER", "MYID"})->get()));
  const std::string dst_id(text(dst.command({"CLUSTER", "MYID"})->get()));
  const std::string s = std::to_string(slot);
  ASSERT_TRUE(dst.command({"CLUSTER", "SETSLOT", s, "IMPORTING", src_id}));
  ASSERT_TRUE(src.command({"CLUSTER", "SETSLOT", s, "MIGRATING", dst_id}));

  // The key is not on the source: it answers -ASK, the target answers after ASKING.
  auto c = must_open(topo_->value("CLUSTER_URL"), key);
  auto r = c.command({"SET", key, "migrating"});
  EXPECT_TRUE(r && text(r->get()) == "OK") << (r ? text(r->get()) : r.error().message());
  EXPECT_EQ(c.redirects(), 1U);
  auto on_dst = dst.command({"ASKING"});
  ASSERT_TRUE(on_dst);
  auto got = dst.command({"GET", key});
  ASSERT_TRUE(got);
  EXPECT_EQ(text(got->get()), "migrating") << "the ASK was followed to the importing node";

  ASSERT_TRUE(dst.command({"DEL", key}));
  ASSERT_TRUE(src.command({"CLUSTER", "SETSLOT", s, "STABLE"}));
  ASSERT_TRUE(dst.command({"CLUSTER", "SETSLOT", s, "STABLE"}));
}

TEST_F(RedisClusterIT, AManualFailoverOfTheSlotsMasterMovesTheConnectionToTheNewOne) {
  const std::string stream = "cluster-itest:failover";
  const int slot = Connection::key_slot(stream);
  auto c = must_open(topo_->value("CLUSTER_URL"), stream);
  ASSERT_TRUE(c.command({"XADD", stream, "*", "n", "1"}));
  const std::string before = owner_of(slot);
  // The old master's replica takes over (CLUSTER FAILOVER on the replica: no write is lost).
  std::string replica;
  for (const auto& p : split(topo_->value("NODE_PORTS"))) {
    auto n = must_open(node_url(p));
    auto role = n.command({"ROLE"});
    const auto f = elements(role->get());
    if (text(f[0]) == "slave" && std::to_string(*integer(f[2])) == before) {
      replica = p;
    }
  }
  ASSERT_FALSE(replica.empty());
  auto r = must_open(node_url(replica));
  ASSERT_TRUE(r.command({"CLUSTER", "FAILOVER"}));
  ASSERT_TRUE(ts::eventually([&] { return owner_of(slot) == replica; }, 30s, 100ms));

  auto added = c.command({"XADD", stream, "*", "n", "2"});
  ASSERT_TRUE(added) << added.error().message();
  EXPECT_FALSE(is_error(added->get())) << text(added->get());
  EXPECT_EQ(c.redirects(), 1U);
  EXPECT_NE(c.endpoint().find(":" + replica + "/"), std::string::npos) << c.endpoint();
  auto len = c.command({"XLEN", stream});
  ASSERT_TRUE(len);
  EXPECT_EQ(integer(len->get()), 2);
  EXPECT_EQ(c.redirects(), 1U) << "once moved, the connection is home again";
}

}  // namespace
}  // namespace galaxy::redis
