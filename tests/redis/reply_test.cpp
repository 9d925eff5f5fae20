// The reply readers, fed replies that hiredis's own reader builds from RESP bytes as Redis
// sends them.
#include "galaxy/redis/reply.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "galaxy/redis/stream_reply.hpp"

namespace {

namespace redis = galaxy::redis;

redis::ReplyPtr resp(std::string_view bytes) {
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, bytes.data(), bytes.size());
  void* reply = nullptr;
  const int rc = redisReaderGetReply(reader, &reply);
  redisReaderFree(reader);
  EXPECT_EQ(rc, REDIS_OK);
  EXPECT_NE(reply, nullptr) << "incomplete RESP in the test";
  return redis::ReplyPtr(static_cast<redisReply*>(reply));
}

TEST(ParseReadReply, NilIsNoEntries) {
  const auto r = redis::parse_read_reply(resp("*-1\r\n").get());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

TEST(ParseReadReply, EntriesAndADeletedPendingOne) {
  const auto reply = resp(
      "*1\r\n*2\r\n$1\r\ns\r\n*2\r\n"
      "*2\r\n$3\r\n1-0\r\n*4\r\n$7\r\ngame_id\r\n$1\r\ng\r\n$1\r\nx\r\n$0\r\n\r\n"
      "*2\r\n$3\r\n2-0\r\n*-1\r\n");
  const auto r = redis::parse_read_reply(reply.get());
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 2U);
  EXPECT_EQ((*r)[0].id, "1-0");
  ASSERT_TRUE((*r)[0].fields);
  const galaxy::contract::EntryFields expected = {{"game_id", "g"}, {"x", ""}};
  EXPECT_EQ(*(*r)[0].fields, expected);
  EXPECT_EQ((*r)[1].id, "2-0");
  EXPECT_FALSE((*r)[1].fields);
}

TEST(ParseReadReply, OddFieldCountIsAShapeError) {
  const auto reply = resp("*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*1\r\n$1\r\na\r\n");
  const auto r = redis::parse_read_reply(reply.get());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().path, "redis");
}

TEST(ParseAutoclaimReply, Redis7ListsDeletedIds) {
  const auto reply = resp(
      "*3\r\n$3\r\n0-0\r\n"
      "*1\r\n*2\r\n$3\r\n5-0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"
      "*2\r\n$3\r\n3-0\r\n$3\r\n4-0\r\n");
  const auto r = redis::parse_autoclaim_reply(reply.get());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->next_start, "0-0");
  ASSERT_EQ(r->entries.size(), 1U);
  EXPECT_EQ(r->entries[0].id, "5-0");
  EXPECT_EQ(r->deleted, (std::vector<std::string>{"3-0", "4-0"}));
}

TEST(ParseAutoclaimReply, Redis62NilEntriesAreDropped) {
  const auto reply = resp("*2\r\n$3\r\n9-0\r\n*2\r\n*-1\r\n*2\r\n$3\r\n7-0\r\n*0\r\n");
  const auto r = redis::parse_autoclaim_reply(reply.get());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->next_start, "9-0");
  ASSERT_EQ(r->entries.size(), 1U);
  EXPECT_EQ(r->entries[0].id, "7-0");
  EXPECT_TRUE(r->deleted.empty());
}

TEST(ParsePendingReply, ExtendedForm) {
  const auto reply = resp("*1\r\n*4\r\n$3\r\n1-0\r\n$2\r\nc1\r\n:1500\r\n:3\r\n");
  const auto r = redis::parse_pending_reply(reply.get());
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 1U);
  EXPECT_EQ((*r)[0].id, "1-0");
  EXPECT_EQ((*r)[0].consumer, "c1");
  EXPECT_EQ((*r)[0].idle_ms, 1500);
  EXPECT_EQ((*r)[0].deliveries, 3);
  EXPECT_FALSE(redis::parse_pending_reply(resp("*1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n").get()));
}

TEST(ReplyHelpers, ErrorCodes) {
  const auto busy = resp("-BUSYGROUP Consumer Group name already exists\r\n");
  EXPECT_TRUE(redis::is_error(busy.get()));
  EXPECT_TRUE(redis::is_error_code(busy.get(), "BUSYGROUP"));
  EXPECT_FALSE(redis::is_error_code(busy.get(), "BUSY"));
  EXPECT_EQ(redis::integer(resp(":7\r\n").get()), 7);
  EXPECT_FALSE(redis::integer(resp("+OK\r\n").get()));
  EXPECT_EQ(redis::error_code(busy.get()), "BUSYGROUP");
  EXPECT_EQ(redis::error_code(resp("-ERR\r\n").get()), "ERR");
  EXPECT_EQ(redis::error_code(resp("+OK\r\n").get()), "");
}

TEST(ReplyHelpers, AServerErrorCarriesKindAndCode) {
  const auto r = resp("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  const galaxy::Error e = redis::server_error("LPUSH k", r.get());
  EXPECT_EQ(e.kind, galaxy::ErrorKind::server);
  EXPECT_EQ(e.code, "WRONGTYPE");
  EXPECT_EQ(e.path, "redis");
  EXPECT_EQ(e.reason, "LPUSH k: WRONGTYPE Operation against a key holding the wrong kind of value");
  EXPECT_EQ(redis::shape_error("x").kind, galaxy::ErrorKind::protocol);
}

TEST(ReplyHelpers, InfoFieldsFlattenPairs) {
  const auto r = resp("*4\r\n$6\r\nlength\r\n:3\r\n$6\r\ngroups\r\n:1\r\n");
  const auto fields = redis::info_fields(r.get());
  ASSERT_EQ(fields.size(), 2U);
  EXPECT_EQ(fields[0].name, "length");
  EXPECT_EQ(redis::integer(fields[1].value), 1);
}

}  // namespace
