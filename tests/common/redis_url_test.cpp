#include "galaxy/common/redis_url.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace galaxy {

// Found by gtest through ADL (so in namespace galaxy) to print a failing comparison readably.
void PrintTo(const RedisEndpoint& ep, std::ostream* os) {
  *os << (ep.transport == RedisEndpoint::Transport::tcp
              ? "tcp host=" + ep.host + " port=" + std::to_string(ep.port)
              : "unix path=" + ep.socket_path)
      << " user=" << ep.user << " password=" << ep.password << " db=" << ep.db
      << " topology=" << static_cast<int>(ep.topology) << " master=" << ep.master_name << " nodes=";
  for (const auto& n : ep.nodes) {
    *os << n.host << ":" << n.port << ",";
  }
}

namespace {

using Transport = RedisEndpoint::Transport;
using Topology = RedisEndpoint::Topology;

struct GoodUrl {
  const char* url;
  RedisEndpoint want;
  const char* redacted;
};

class RedisUrlAccepts : public testing::TestWithParam<GoodUrl> {};

TEST_P(RedisUrlAccepts, EveryFieldAndTheRedactedForm) {
  const auto ep = parse_redis_url(GetParam().url);
  ASSERT_TRUE(ep) << GetParam().url << ": " << ep.error().message();
  EXPECT_EQ(*ep, GetParam().want) << GetParam().url;
  EXPECT_EQ(ep->redacted(), GetParam().redacted);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RedisUrlAccepts,
    testing::Values(
        GoodUrl{"redis://127.0.0.1:26399",
                {.host = "127.0.0.1", .port = 26399},
                "redis://127.0.0.1:26399/0"},
        GoodUrl{
            "redis://cache.internal", {.host = "cache.internal"}, "redis://cache.internal:6379/0"},
        // Credentials are percent-decoded.
        GoodUrl{
            "redis://alice:s%40cret@redis.example:6380/3",
            {.host = "redis.example", .port = 6380, .user = "alice", .password = "s@cret", .db = 3},
            "redis://alice:***@redis.example:6380/3"},
        // A password alone means the default user.
        GoodUrl{"redis://:pw@127.0.0.1",
                {.host = "127.0.0.1", .password = "pw"},
                "redis://:***@127.0.0.1:6379/0"},
        GoodUrl{"redis://ops:topsecret@h:1/2",
                {.host = "h", .port = 1, .user = "ops", .password = "topsecret", .db = 2},
                "redis://ops:***@h:1/2"},
        // IPv6 hosts are kept without brackets (as hiredis wants them) and logged with them.
        GoodUrl{"redis://[::1]:7000", {.host = "::1", .port = 7000}, "redis://[::1]:7000/0"},
        GoodUrl{"unix:///run/redis/redis.sock",
                {.transport = Transport::unix_socket, .socket_path = "/run/redis/redis.sock"},
                "unix:///run/redis/redis.sock?db=0"},
        GoodUrl{
            "unix:///run/redis/redis.sock?db=2",
            {.transport = Transport::unix_socket, .socket_path = "/run/redis/redis.sock", .db = 2},
            "unix:///run/redis/redis.sock?db=2"},
        GoodUrl{"unix://:topsecret@/tmp/r.sock",
                {.transport = Transport::unix_socket,
                 .socket_path = "/tmp/r.sock",
                 .password = "topsecret"},
                "unix://:***@/tmp/r.sock?db=0"},
        GoodUrl{"redis-sentinel://127.0.0.1:26380,127.0.0.1:26381,[::1]:26382/galaxy",
                {.topology = Topology::sentinel,
                 .nodes = {{"127.0.0.1", 26380}, {"127.0.0.1", 26381}, {"::1", 26382}},
                 .master_name = "galaxy"},
                "redis-sentinel://127.0.0.1:26380,127.0.0.1:26381,[::1]:26382/galaxy?db=0"},
        // The credentials and db are the data nodes'; a sentinel without a port is on 26379.
        GoodUrl{"redis-sentinel://ops:s%40cret@s1,s2:5000/main?db=4",
                {.topology = Topology::sentinel,
                 .user = "ops",
                 .password = "s@cret",
                 .db = 4,
                 .nodes = {{"s1", 26379}, {"s2", 5000}},
                 .master_name = "main"},
                "redis-sentinel://ops:***@s1:26379,s2:5000/main?db=4"},
        GoodUrl{"redis-cluster://:pw@10.0.0.1:7000,10.0.0.2",
                {.topology = Topology::cluster,
                 .password = "pw",
                 .nodes = {{"10.0.0.1", 7000}, {"10.0.0.2", 6379}}},
                "redis-cluster://:***@10.0.0.1:7000,10.0.0.2:6379"},
        GoodUrl{"redis-cluster://127.0.0.1:7000/",
                {.topology = Topology::cluster, .nodes = {{"127.0.0.1", 7000}}},
                "redis-cluster://127.0.0.1:7000"}));

struct BadUrl {
  const char* url;
  const char* path;         // the part at fault
  const char* reason_part;  // what the operator reads
};

class RedisUrlRejects : public testing::TestWithParam<BadUrl> {};

TEST_P(RedisUrlRejects, NamingThePartWithAReasonThatDoesNotEchoTheInput) {
  const auto ep = parse_redis_url(GetParam().url);
  ASSERT_FALSE(ep) << GetParam().url;
  EXPECT_EQ(ep.error().path, GetParam().path) << ep.error().message();
  EXPECT_NE(ep.error().reason.find(GetParam().reason_part), std::string::npos) << ep.error().reason;
  EXPECT_EQ(ep.error().message().find("s3cr3t"), std::string::npos) << ep.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RedisUrlRejects,
    testing::Values(
        BadUrl{"not a url :: s3cr3t", "/", "not a URL"},
        BadUrl{"redis://u:s3cr3t@:1 2", "/", "not a URL"},
        BadUrl{"http://u:s3cr3t@h:1", "/scheme", "scheme"},
        BadUrl{"foo:s3cr3t@", "/scheme", "scheme"}, BadUrl{"redis://u:s3cr3t@h:0", "/port", "port"},
        BadUrl{"redis://u:s3cr3t@h:70000", "/port", "port"},
        BadUrl{"redis://u:s3cr3t@h:1/x", "/db", "db"},
        BadUrl{"redis://u:s3cr3t@h:1/-1", "/db", "db"},
        BadUrl{"redis://u:s3cr3t@h:1/01", "/db", "db"},
        BadUrl{"redis://u:s3cr3t@h:1/1/2", "/db", "db"},
        BadUrl{"redis://u:s3cr3t@h:1?db=1", "/query", "query"},
        BadUrl{"redis://u:s3cr3t@h:1#frag", "/fragment", "fragment"},
        BadUrl{"redis://:s3cr3t@:1", "/host", "host"}, BadUrl{"redis:///0", "/host", "host"},
        BadUrl{"unix://host/tmp/s3cr3t.sock", "/host", "no host"},
        BadUrl{"unix://", "/path", "absolute"}, BadUrl{"unix:relative", "/path", "absolute"},
        BadUrl{"unix:///tmp/r.sock?x=1", "/query", "db=N"},
        BadUrl{"unix:///s?tls=1", "/query", "db=N"}, BadUrl{"unix:///tmp/r.sock?db=x", "/db", "db"},
        BadUrl{"redis-sentinel://", "/host", "host:port"},
        BadUrl{"redis-sentinel://u:s3cr3t@h:1", "/master", "master_name"},
        BadUrl{"redis-sentinel://u:s3cr3t@h:1/", "/master", "master_name"},
        BadUrl{"redis-sentinel://u:s3cr3t@h:1,/m", "/host", "host"},
        BadUrl{"redis-sentinel://u:s3cr3t@h:1,h:2,/m", "/host", "comma"},
        BadUrl{"redis-sentinel://u:s3cr3t@h:0/m", "/port", "port"},
        BadUrl{"redis-sentinel://u:s3cr3t@h:/m", "/port", "port"},
        BadUrl{"redis-sentinel://u:s3cr3t@[::1/m", "/host", "]"},
        BadUrl{"redis-sentinel://u:s3cr3t@h:1/m/x", "/master", "master_name"},
        BadUrl{"redis-sentinel://u:s3cr3t@h:1/m?db=x", "/db", "db"},
        BadUrl{"redis-sentinel://u:s3cr3t@h:1/m?tls=1", "/query", "db=N"},
        BadUrl{"redis-sentinel://u:s3cr3t@h:1/m#f", "/fragment", "fragment"},
        BadUrl{"redis-cluster://u:s3cr3t@h:1/2", "/db", "db 0"},
        BadUrl{"redis-cluster://u:s3cr3t@h:1?db=1", "/query", "query"},
        BadUrl{"redis-cluster://u:s3cr3t@h%20x:1", "/host", "host"}));

}  // namespace
}  // namespace galaxy
