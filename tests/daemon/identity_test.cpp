// A daemon's identity files: made once, kept, and never silently replaced.

#include "galaxy/daemon/identity.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>

namespace galaxy::daemon {
namespace {

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("galaxy-identity-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST(RandomUuid, IsAVersion4UuidAndDiffersEachTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto u = random_uuid();
    ASSERT_EQ(u.size(), 36U) << u;
    EXPECT_EQ(u[8], '-');
    EXPECT_EQ(u[14], '4') << u;
    EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos) << u;
    EXPECT_TRUE(check_host_id(u)) << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 100U);
}

TEST(CheckHostId, AcceptsNamesAndUuidsAndNamesTheBadCharacter) {
  EXPECT_TRUE(check_host_id("host-a"));
  EXPECT_TRUE(check_host_id("eu1.rack7_node-03"));
  EXPECT_FALSE(check_host_id(""));
  EXPECT_FALSE(check_host_id(std::string(65, 'a')));
  EXPECT_FALSE(check_host_id("-leading"));
  auto bad = check_host_id("host a");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().path, "/4");
  EXPECT_NE(bad.error().reason.find("' '"), std::string::npos) << bad.error().reason;
  EXPECT_FALSE(check_host_id("{x}")) << "braces would break the Redis Cluster hash tags";
  EXPECT_FALSE(check_host_id("a'b"));
}

TEST_F(IdentityTest, IsMadeOnceAndReadBackTheSame) {
  auto first = load_or_create_id(dir_ / "host-id");
  ASSERT_TRUE(first) << first.error().message();
  auto again = load_or_create_id(dir_ / "host-id");
  ASSERT_TRUE(again);
  EXPECT_EQ(*first, *again);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "host-id.tmp"));
}

TEST_F(IdentityTest, AnOperatorWrittenIdIsKept) {
  std::ofstream(dir_ / "host-id") << "eu1-node-7\n";
  EXPECT_EQ(load_or_create_id(dir_ / "host-id").value(), "eu1-node-7");
}

TEST_F(IdentityTest, AFileThatHoldsNoValidIdIsAnErrorNotReplaced) {
  std::ofstream(dir_ / "host-id") << "not an id\n";
  auto r = load_or_create_id(dir_ / "host-id");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("host-id"), std::string::npos) << r.error().message();
  std::ifstream in(dir_ / "host-id");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "not an id") << "left for the operator to fix";
}

TEST_F(IdentityTest, AnUnwritableDirectoryIsAnErrorNamingThePath) {
  auto r = load_or_create_id(dir_ / "missing" / "host-id");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().path.find("missing"), std::string::npos) << r.error().path;
}

}  // namespace
}  // namespace galaxy::daemon
