#include "galaxy/pg/target.hpp"

#include <gtest/gtest.h>

#include <array>

namespace galaxy::pg {
namespace {

std::string param(const Target& t, const std::string& key) {
  for (const auto& [k, v] : t.params) {
    if (k == key) {
      return v;
    }
  }
  return "<unset>";
}

TEST(PostgresTarget, UriGetsDeadlinesAndKeepsPasswordOutOfDescribe) {
  auto t = parse_target("postgresql://pg:hunter2@db.example:5499/health",
                        ConnectSettings{.connect_timeout = std::chrono::seconds(3),
                                        .statement_timeout = std::chrono::milliseconds(2500),
                                        .application_name = "app"});
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(param(*t, "host"), "db.example");
  EXPECT_EQ(param(*t, "port"), "5499");
  EXPECT_EQ(param(*t, "dbname"), "health");
  EXPECT_EQ(param(*t, "connect_timeout"), "3");
  EXPECT_EQ(param(*t, "options"),
            "-c client_connection_check_interval=1000 -c statement_timeout=2500 "
            "-c idle_in_transaction_session_timeout=5000");
  EXPECT_EQ(t->connect_timeout, std::chrono::seconds(3));
  EXPECT_EQ(param(*t, "application_name"), "app");
  EXPECT_EQ(t->password, "hunter2");
  EXPECT_EQ(t->describe, "host=db.example port=5499 dbname=health user=pg");
}

TEST(PostgresTarget, ConninfoKeepsOperatorChoices) {
  auto t = parse_target("host=db connect_timeout=9 options='-c statement_timeout=1'");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(param(*t, "connect_timeout"), "9");
  EXPECT_EQ(param(*t, "options"),
            "-c statement_timeout=1 -c client_connection_check_interval=1000 "
            "-c idle_in_transaction_session_timeout=5000");
  EXPECT_EQ(t->connect_timeout, std::chrono::seconds(9));
  EXPECT_EQ(t->password, "");
}

TEST(PostgresTarget, MalformedIsAnErrorWithoutThePassword) {
  auto t = parse_target("host=db password=hunter2 nonsense");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message().find("hunter2"), std::string::npos) << t.error().message();
}

TEST(PostgresTarget, ConnectTimeoutMustBeSeconds) {
  auto t = parse_target("host=db connect_timeout=soon");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().path, "/connect_timeout");
  auto one = parse_target("host=db connect_timeout=1");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->connect_timeout, std::chrono::seconds(2));  // libpq's minimum
}

}  // namespace
}  // namespace galaxy::pg
