// The durable path end to end: runtime-manager with its default sink, real containers, and Redis,
// PostgreSQL and the daemon itself each killed once in the middle. The stream must hold every
// expected event exactly once, valid by the contract, and each snapshot the game's latest event.

#include "durable.hpp"

namespace {

using namespace galaxy::apptest;
using namespace std::chrono_literals;

TEST_F(DurableTest, EveryEventExactlyOnceThroughRedisPostgresAndDaemonCrashes) {
  auto d = start_daemon({"--inspect-interval", "1s"});
  const auto a = run("game-a", {}, {"--exit-code", "3", "--exit-after-ms", "1500"});
  const auto b =
      run("game-b", {"--memory", "32m", "--memory-swap", "32m"}, {"--oom-after-ms", "500"});
  wait_stream(
      [&](const auto& es) {
        return has(es, a, EventType::container_exited) && has(es, b, EventType::container_exited);
      },
      60s, "a and b to exit");

  // Redis crashes (kill -9) while c lives and dies; the outbox holds c's events meanwhile.
  services("kill9", "redis");
  const auto c = run("game-c", {}, {"--exit-code", "0", "--exit-after-ms", "1000"});
  std::this_thread::sleep_for(2500ms);
  services("start", "redis");

  // PostgreSQL stops while d starts and e exits; the sink's queue holds them.
  services("stop", "postgres");
  const auto dd = run("game-d", {});
  const auto e = run("game-e", {}, {"--exit-code", "4", "--exit-after-ms", "500"});
  std::this_thread::sleep_for(2500ms);
  services("start", "postgres");
  wait_stream(
      [&](const auto& es) {
        return has(es, c, EventType::container_exited) &&
               has(es, dd, EventType::container_started) && has(es, e, EventType::container_exited);
      },
      90s, "c, d and e after the Redis and PostgreSQL restarts");

  // The daemon dies without a chance to flush; f starts and d is removed while it is down.
  d->kill9();
  const auto f = run("game-f", {});
  docker({"rm", "-f", dd});
  auto d2 = start_daemon({"--inspect-interval", "1s"});
  auto entries = wait_stream(
      [&](const auto& es) {
        return has(es, f, EventType::container_started) &&
               has(es, dd, EventType::container_disappeared);
      },
      90s, "f's start and d's removal after the daemon restart");
  std::this_thread::sleep_for(4s);  // let stragglers (inspect rounds) land, then read it all
  entries = read_stream();
  d2->stop();

  // No entry twice.
  std::set<std::string> seen;
  for (const auto& en : entries) {
    EXPECT_TRUE(seen.insert(contract::encode_payload(en.event)).second)
        << "duplicate entry " << en.id << ": " << contract::encode_payload(en.event);
  }

  // Per container, the lifecycle events in order, and one inspect_unhealthy per exited one.
  std::map<std::string, std::vector<contract::Details>> life;
  std::map<std::string, int> unhealthy;
  for (const auto& en : entries) {
    if (en.event.type() == EventType::inspect_unhealthy) {
      EXPECT_EQ(en.event.details, contract::Details(contract::InspectUnhealthy{0, "exited", ""}));
      ++unhealthy[en.event.container_id];
    } else {
      life[en.event.container_id].push_back(en.event.details);
    }
  }
  using contract::ContainerExited;
  using contract::ContainerStarted;
  const contract::Details started = ContainerStarted{kImage};
  EXPECT_EQ(life[a], (std::vector<contract::Details>{started, ContainerExited{3, false}}));
  EXPECT_EQ(life[b], (std::vector<contract::Details>{started, contract::ContainerOom{137},
                                                     ContainerExited{137, true}}));
  EXPECT_EQ(life[c], (std::vector<contract::Details>{started, ContainerExited{0, false}}));
  EXPECT_EQ(life[dd], (std::vector<contract::Details>{started, ContainerExited{137, false},
                                                      contract::ContainerDisappeared{}}));
  EXPECT_EQ(life[e], (std::vector<contract::Details>{started, ContainerExited{4, false}}));
  EXPECT_EQ(life[f], (std::vector<contract::Details>{started}));
  EXPECT_EQ(life.size(), 6U);
  for (const auto& id : {a, b, c, e}) {
    EXPECT_EQ(unhealthy[id], 1) << id;
  }

  // Each snapshot is its game's latest entry (by occurred_at_ms, ties by stream order).
  std::map<std::string, Entry> latest;
  for (const auto& en : entries) {
    auto it = latest.find(en.event.game_id);
    if (it == latest.end() || en.event.occurred_at_ms >= it->second.event.occurred_at_ms) {
      latest.insert_or_assign(en.event.game_id, en);
    }
  }
  auto rows = sql(db_url_,
                  "SELECT game_id, container_id, event_type, occurred_at_ms, stream_id "
                  "FROM health_snapshots ORDER BY game_id");
  ASSERT_EQ(rows.size(), latest.size());
  for (const auto& row : rows) {
    const Entry& want = latest.at(row[0]);
    EXPECT_EQ(row[1], want.event.container_id) << row[0];
    EXPECT_EQ(row[2], contract::to_string(want.event.type())) << row[0];
    EXPECT_EQ(row[3], std::to_string(want.event.occurred_at_ms)) << row[0];
    EXPECT_EQ(row[4], want.id) << row[0];
  }
}

}  // namespace
