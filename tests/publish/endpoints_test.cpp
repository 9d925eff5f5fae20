#include "galaxy/publish/endpoints.hpp"

#include <gtest/gtest.h>

#include <array>

namespace galaxy::publish {
namespace {

TEST(Redact, UrlPasswordsBecomeStars) {
  EXPECT_EQ(redact_url("redis://u:hunter2@h:1/0"), "redis://u:***@h:1/0");
  EXPECT_EQ(redact_url("postgresql://pg:hunter2@db:5432/x?sslmode=disable"),
            "postgresql://pg:***@db:5432/x?sslmode=disable");
  EXPECT_EQ(redact_url("postgresql://db/x?password=hunter2&user=a"),
            "postgresql://db/x?password=***&user=a");
  EXPECT_EQ(redact_url("redis://h:1"), "redis://h:1");
}

TEST(Redact, ConninfoPasswords) {
  EXPECT_EQ(redact_url("host=db password=hunter2 dbname=x"), "host=db password=*** dbname=x");
  EXPECT_EQ(redact_url("password = 'hun ter\\'2' host=db"), "password = *** host=db");
  EXPECT_EQ(redact_url("host=db mypassword=1"), "host=db mypassword=1");
  EXPECT_EQ(redact_url("host=db"), "host=db");
}

TEST(Scrub, ReplacesEverySecretOccurrence) {
  const std::array<std::string, 2> secrets{"hunter2", ""};
  EXPECT_EQ(scrub("a hunter2 b hunter2", secrets), "a *** b ***");
  EXPECT_EQ(scrub("nothing", secrets), "nothing");
}

std::string param(const PgTarget& t, const std::string& key) {
  for (const auto& [k, v] : t.params) {
    if (k == key) {
      return v;
    }
  }
  return "<unset>";
}

TEST(PostgresTarget, UriGetsDeadlinesAndKeepsPasswordOutOfDescribe) {
  auto t = parse_postgres_target(
      "postgresql://pg:hunter2@db.example:5499/health",
      PgConnectSettings{std::chrono::seconds(3), std::chrono::milliseconds(2500), "app"});
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(param(*t, "host"), "db.example");
  EXPECT_EQ(param(*t, "port"), "5499");
  EXPECT_EQ(param(*t, "dbname"), "health");
  EXPECT_EQ(param(*t, "connect_timeout"), "3");
  EXPECT_EQ(param(*t, "options"), "-c statement_timeout=2500");
  EXPECT_EQ(param(*t, "application_name"), "app");
  EXPECT_EQ(t->password, "hunter2");
  EXPECT_EQ(t->describe, "host=db.example port=5499 dbname=health user=pg");
}

TEST(PostgresTarget, ConninfoKeepsOperatorChoices) {
  auto t = parse_postgres_target("host=db connect_timeout=9 options='-c statement_timeout=1'");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(param(*t, "connect_timeout"), "9");
  EXPECT_EQ(param(*t, "options"), "-c statement_timeout=1");
  EXPECT_EQ(t->password, "");
}

TEST(PostgresTarget, MalformedIsAnErrorWithoutThePassword) {
  auto t = parse_postgres_target("host=db password=hunter2 nonsense");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message().find("hunter2"), std::string::npos) << t.error().message();
}

}  // namespace
}  // namespace galaxy::publish
