#include "galaxy/common/redact.hpp"

#include <gtest/gtest.h>

#include <array>

namespace galaxy {
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

}  // namespace
}  // namespace galaxy
