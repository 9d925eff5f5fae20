#include "galaxy/sources/state_store.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace galaxy::sources {
namespace {

ModelState sample() {
  ModelState s;
  s.cursor.time_ns = 1'775'121'700'000'000'123;
  s.cursor.at_keys = {"abc start", "abc die"};
  ContainerMemory m;
  m.id = "abc";
  m.game_id = "game-ü";
  m.start_mark_ms = 5;
  m.start_mark_from_event = true;
  m.exit_mark_ms = 9;
  m.oom_since_start = true;
  m.has_restart_count = true;
  m.restart_count = 2;
  m.unhealthy = contract::InspectUnhealthy{2, "exited", ""};
  m.held_exit = HeldExit{137, 9};
  s.containers.push_back(m);
  ContainerMemory plain;
  plain.id = "def";
  plain.game_id = "g";
  s.containers.push_back(plain);
  return s;
}

class StateStoreTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("galaxy-state-" + std::to_string(::getpid()) + "-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
};

TEST_F(StateStoreTest, MissingFileMeansNeverRan) {
  FileStateStore store(dir / "state.json");
  auto r = store.load();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_value());
}

TEST_F(StateStoreTest, SaveThenLoadGivesTheSameState) {
  FileStateStore store(dir / "state.json");
  ASSERT_TRUE(store.save(sample()));
  ASSERT_TRUE(store.save(sample()));  // replacing works too
  auto r = store.load();
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ(**r, sample());
  EXPECT_FALSE(std::filesystem::exists(dir / "state.json.tmp"));
}

TEST_F(StateStoreTest, CorruptStateIsAnErrorNamingTheFileAndPlace) {
  const auto path = dir / "state.json";
  FileStateStore store(path);
  for (const auto& [text, where] : std::vector<std::pair<std::string, std::string>>{
           {"{not json", "/"},
           {R"({"version":2,"cursor":{},"containers":[]})", "/version"},
           {R"({"version":1,"cursor":{"time_ns":"x","at_keys":[]},"containers":[]})",
            "/cursor/time_ns"},
           {R"({"version":1,"cursor":{"time_ns":1,"at_keys":[]},"containers":[{"id":1}]})",
            "/containers/0/id"},
       }) {
    std::ofstream(path) << text;
    auto r = store.load();
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().path, path.string() + where) << r.error().reason;
  }
}

TEST_F(StateStoreTest, UnwritableDirectoryIsAnError) {
  FileStateStore store(dir / "missing-dir" / "state.json");
  auto r = store.save(sample());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().reason.find("cannot create"), std::string::npos);
}

}  // namespace
}  // namespace galaxy::sources
