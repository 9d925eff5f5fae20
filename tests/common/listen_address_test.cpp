#include "galaxy/common/listen_address.hpp"

#include <gtest/gtest.h>

namespace galaxy {
namespace {

TEST(ListenAddress, AddressesAreParsedAndBadOnesNamed) {
  auto v4 = parse_listen_address("127.0.0.1:7464");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->port(), 7464);
  auto v6 = parse_listen_address("[::1]:80");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->address().is_v6());
  auto any = parse_listen_address(":0");
  ASSERT_TRUE(any);
  EXPECT_TRUE(any->address().is_unspecified());
  EXPECT_EQ(parse_listen_address("localhost:80").error().path, "/host");
  EXPECT_EQ(parse_listen_address("127.0.0.1").error().path, "/port");
  EXPECT_EQ(parse_listen_address("127.0.0.1:").error().path, "/port");
  EXPECT_EQ(parse_listen_address("127.0.0.1:99999").error().path, "/port");
  EXPECT_EQ(parse_listen_address("127.0.0.1:8x").error().path, "/port");
}

}  // namespace
}  // namespace galaxy
