// The cluster slot of a key must be Redis's own (CLUSTER KEYSLOT), or every command would be sent
// to the wrong master and come back -MOVED. Values from the cluster specification's examples;
// redis_cluster_itest checks them against a real cluster too.
#include <gtest/gtest.h>

#include "galaxy/redis/connection.hpp"

namespace galaxy::redis {
namespace {

TEST(KeySlot, IsCrc16XmodemModulo16384) {
  // The spec's CRC16 check value: "123456789" -> 0x31C3.
  EXPECT_EQ(Connection::key_slot("123456789"), 0x31C3);
  EXPECT_EQ(Connection::key_slot("foo"), 12182);
  EXPECT_EQ(Connection::key_slot(""), 0);
}

TEST(KeySlot, AHashTagPutsKeysInOneSlot) {
  const int stream = Connection::key_slot("runtime:health_events");
  EXPECT_EQ(Connection::key_slot("{runtime:health_events}:hwm:host-a"), stream);
  EXPECT_EQ(Connection::key_slot("{runtime:health_events}:idmp:host-b"), stream);
  EXPECT_EQ(Connection::key_slot("{user1000}.following"), Connection::key_slot("user1000"));
}

TEST(KeySlot, AnEmptyOrUnclosedTagHashesTheWholeKey) {
  EXPECT_NE(Connection::key_slot("foo{}{bar}"), Connection::key_slot("bar"));
  EXPECT_EQ(Connection::key_slot("foo{{bar}}zap"), Connection::key_slot("{bar"));
  EXPECT_NE(Connection::key_slot("foo{bar"), Connection::key_slot("bar"));
}

}  // namespace
}  // namespace galaxy::redis
