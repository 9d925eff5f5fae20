// galaxy::redis::Connection against the dev Redis (GALAXY_REDIS_URL): replies, error replies as
// values, and the kind of each failure (timeout, closed, io) the callers retry on.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "galaxy/redis/connection.hpp"
#include "galaxy/testsupport/http.hpp"
#include "galaxy/testsupport/net.hpp"

namespace galaxy::redis {
namespace {

using namespace std::chrono_literals;

RedisEndpoint dev_endpoint() {
  return parse_redis_url(testsupport::require_env("GALAXY_REDIS_URL")).value();
}

Connection open_dev(std::chrono::milliseconds command_timeout = 5s) {
  auto c = Connection::open(dev_endpoint(), 5s, command_timeout);
  if (!c) {
    throw std::runtime_error(c.error().message());
  }
  return std::move(*c);
}

std::string unique_key(const char* what) {
  return std::string("galaxy:redis-itest:") + what + ":" + std::to_string(::getpid());
}

TEST(RedisConnectionIT, CommandsAndAPipelineInOneRoundTrip) {
  auto c = open_dev();
  const std::string key = unique_key("pipeline");
  const std::string binary("a\0b", 3);
  const std::vector<Argv> cmds{{"DEL", key}, {"SET", key, binary}, {"GET", key}, {"STRLEN", key}};
  auto replies = c.pipeline(cmds);
  ASSERT_TRUE(replies) << replies.error().message();
  ASSERT_EQ(replies->size(), 4U);
  EXPECT_EQ(text((*replies)[1].get()), "OK");
  EXPECT_EQ(text((*replies)[2].get()), binary);
  EXPECT_EQ(integer((*replies)[3].get()), 3);
  auto ping = c.command({"PING"});
  ASSERT_TRUE(ping);
  EXPECT_EQ(text(ping->get()), "PONG");
  EXPECT_FALSE(c.broken());
}

TEST(RedisConnectionIT, AnErrorReplyIsAValueWithItsCode) {
  auto c = open_dev();
  const std::string key = unique_key("wrongtype");
  ASSERT_TRUE(c.command({"SET", key, "x"}));
  auto r = c.command({"LPUSH", key, "y"});
  ASSERT_TRUE(r) << "a Redis error reply is not an I/O error";
  EXPECT_TRUE(is_error(r->get()));
  EXPECT_EQ(error_code(r->get()), "WRONGTYPE");
  const Error e = server_error("LPUSH", r->get());
  EXPECT_EQ(e.kind, ErrorKind::server);
  EXPECT_EQ(e.code, "WRONGTYPE");
  EXPECT_FALSE(c.broken()) << "the connection stays usable after an error reply";
  (void)c.command({"DEL", key});
}

TEST(RedisConnectionIT, NoReplyWithinTheDeadlineIsATimeoutAndBreaksTheConnection) {
  auto c = open_dev(200ms);
  auto r = c.command({"BLPOP", unique_key("never"), "5"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::timeout) << r.error().message();
  EXPECT_TRUE(c.broken());
  auto again = c.command({"PING"});
  ASSERT_FALSE(again) << "a broken connection must not be reused";
  // A longer per-call timeout is honoured on a fresh connection.
  auto d = open_dev(200ms);
  auto blocked = d.command(std::vector<std::string>{"BLPOP", unique_key("never"), "1"}, 3s);
  ASSERT_TRUE(blocked) << blocked.error().message();
  EXPECT_TRUE(is_nil(blocked->get()));
}

TEST(RedisConnectionIT, ServerClosingTheConnectionIsClosed) {
  auto victim = open_dev();
  auto id = victim.command({"CLIENT", "ID"});
  ASSERT_TRUE(id);
  auto killer = open_dev();
  auto k = killer.command({"CLIENT", "KILL", "ID", std::to_string(integer(id->get()).value())});
  ASSERT_TRUE(k);
  ASSERT_EQ(integer(k->get()), 1);
  auto r = victim.command({"PING"});
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().kind == ErrorKind::closed || r.error().kind == ErrorKind::io)
      << to_string(r.error().kind) << ": " << r.error().message();
  EXPECT_TRUE(transient(r.error()));
}

TEST(RedisConnectionIT, NobodyListeningIsAnIoErrorNamingTheRedactedEndpoint) {
  RedisEndpoint ep;
  ep.host = "127.0.0.1";
  ep.port = testsupport::free_port();
  ep.password = "hunter2";
  auto c = Connection::open(ep, 2s, 2s);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::io) << c.error().message();
  EXPECT_NE(c.error().reason.find(ep.redacted()), std::string::npos) << c.error().reason;
  EXPECT_EQ(c.error().reason.find("hunter2"), std::string::npos) << c.error().reason;
}

TEST(RedisConnectionIT, ARefusedAuthIsAServerErrorWithoutThePassword) {
  auto ep = dev_endpoint();
  ep.user = "galaxy-nobody";
  ep.password = "hunter2-wrong";
  auto c = Connection::open(ep, 2s, 2s);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::server) << c.error().message();
  EXPECT_FALSE(c.error().code.empty());
  EXPECT_EQ(c.error().reason.find("hunter2-wrong"), std::string::npos) << c.error().reason;
}

}  // namespace
}  // namespace galaxy::redis
