#include "galaxy/consumer/redis_url.hpp"

#include <gtest/gtest.h>

namespace {

using galaxy::consumer::parse_redis_url;
using galaxy::consumer::RedisEndpoint;

TEST(RedisUrl, HostPortAndDefaults) {
  const auto ep = parse_redis_url("redis://127.0.0.1:26399");
  ASSERT_TRUE(ep) << ep.error().message();
  EXPECT_EQ(ep->transport, RedisEndpoint::Transport::tcp);
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 26399);
  EXPECT_EQ(ep->db, 0);
  EXPECT_TRUE(ep->user.empty());
  EXPECT_TRUE(ep->password.empty());

  const auto bare = parse_redis_url("redis://cache.internal");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->port, 6379);
}

TEST(RedisUrl, UserPasswordAndDbArePercentDecoded) {
  const auto ep = parse_redis_url("redis://ops:s%40cret@redis.example:6380/3");
  ASSERT_TRUE(ep) << ep.error().message();
  EXPECT_EQ(ep->user, "ops");
  EXPECT_EQ(ep->password, "s@cret");
  EXPECT_EQ(ep->db, 3);
  EXPECT_EQ(ep->port, 6380);
}

TEST(RedisUrl, PasswordOnlyMeansDefaultUser) {
  const auto ep = parse_redis_url("redis://:hunter2@localhost:6379");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->user, "");
  EXPECT_EQ(ep->password, "hunter2");
}

TEST(RedisUrl, Ipv6HostHasNoBrackets) {
  const auto ep = parse_redis_url("redis://[::1]:7000");
  ASSERT_TRUE(ep) << ep.error().message();
  EXPECT_EQ(ep->host, "::1");
  EXPECT_EQ(ep->redacted(), "redis://[::1]:7000");
}

TEST(RedisUrl, UnixSocket) {
  const auto ep = parse_redis_url("unix:///run/redis/redis.sock");
  ASSERT_TRUE(ep) << ep.error().message();
  EXPECT_EQ(ep->transport, RedisEndpoint::Transport::unix_socket);
  EXPECT_EQ(ep->socket_path, "/run/redis/redis.sock");
  const auto db = parse_redis_url("unix:///tmp/r.sock?db=2");
  ASSERT_TRUE(db);
  EXPECT_EQ(db->db, 2);
}

TEST(RedisUrl, RedactedNeverShowsThePassword) {
  const auto ep = parse_redis_url("redis://ops:topsecret@h:1/2");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->redacted(), "redis://ops:***@h:1/2");
  const auto unix_ep = parse_redis_url("unix://:topsecret@/tmp/r.sock");
  ASSERT_TRUE(unix_ep) << unix_ep.error().message();
  EXPECT_EQ(unix_ep->redacted().find("topsecret"), std::string::npos);
}

struct BadUrl {
  const char* url;
  const char* reason_part;
};

class RedisUrlRejects : public testing::TestWithParam<BadUrl> {};

TEST_P(RedisUrlRejects, WithAReasonThatDoesNotEchoTheInput) {
  const auto ep = parse_redis_url(GetParam().url);
  ASSERT_FALSE(ep) << GetParam().url;
  EXPECT_EQ(ep.error().path, "redis_url");
  EXPECT_NE(ep.error().reason.find(GetParam().reason_part), std::string::npos) << ep.error().reason;
  EXPECT_EQ(ep.error().reason.find("s3cr3t"), std::string::npos) << ep.error().reason;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RedisUrlRejects,
    testing::Values(
        BadUrl{"not a url :: s3cr3t", "not a URL"}, BadUrl{"http://u:s3cr3t@h:1", "scheme"},
        BadUrl{"redis://u:s3cr3t@h:0", "port"}, BadUrl{"redis://u:s3cr3t@h:70000", "port"},
        BadUrl{"redis://u:s3cr3t@h:1/x", "db"}, BadUrl{"redis://u:s3cr3t@h:1/01", "db"},
        BadUrl{"redis://u:s3cr3t@h:1/1/2", "db"}, BadUrl{"redis://u:s3cr3t@h:1?db=1", "query"},
        BadUrl{"redis://u:s3cr3t@h:1#frag", "fragment"}, BadUrl{"redis://:s3cr3t@:1", "host"},
        BadUrl{"unix://host/tmp/s3cr3t.sock", "no host"}, BadUrl{"unix:relative", "absolute"},
        BadUrl{"unix:///tmp/r.sock?x=1", "db=N"}));

}  // namespace
