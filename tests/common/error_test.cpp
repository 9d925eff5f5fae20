#include <gtest/gtest.h>

#include "galaxy/common/result.hpp"

namespace galaxy {
namespace {

TEST(Error, TwoArgumentsIsAnInputError) {
  const Error e{"/port", "must be a number"};
  EXPECT_EQ(e.kind, ErrorKind::invalid);
  EXPECT_EQ(e.message(), "/port: must be a number");
  EXPECT_FALSE(transient(e));
}

TEST(Error, KindAndCodeAreData) {
  const Error e = make_error(ErrorKind::server, "postgres", "deadlock detected", "40P01");
  EXPECT_EQ(e.kind, ErrorKind::server);
  EXPECT_EQ(e.code, "40P01");
  EXPECT_FALSE(transient(e));
  EXPECT_NE(e, (Error{"postgres", "deadlock detected"}));
}

TEST(Error, TransientKinds) {
  for (const auto kind : {ErrorKind::io, ErrorKind::timeout, ErrorKind::closed}) {
    EXPECT_TRUE(transient(make_error(kind, "redis", "x"))) << to_string(kind);
  }
  for (const auto kind : {ErrorKind::invalid, ErrorKind::protocol, ErrorKind::server}) {
    EXPECT_FALSE(transient(make_error(kind, "redis", "x"))) << to_string(kind);
  }
}

TEST(Error, KindNames) {
  EXPECT_EQ(to_string(ErrorKind::timeout), "timeout");
  EXPECT_EQ(to_string(ErrorKind::protocol), "protocol");
}

}  // namespace
}  // namespace galaxy
