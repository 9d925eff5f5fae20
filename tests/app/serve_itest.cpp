// `runtime-manager serve --sink stdout` against the real dockerd: each test runs the daemon
// binary, drives real containers of galaxy/fake-engine:test with the docker CLI, and asserts the
// exact events (types, every field, order) that docs/emission-rules.md prescribes.
//
// Each test watches its own label key, so containers of other tests never reach it.
#include "daemon.hpp"

namespace {

using namespace galaxy::apptest;
using namespace std::chrono_literals;

using ServeTest = DaemonTest;

contract::Details started_details() {
  return contract::ContainerStarted{kImage};
}
contract::Details exited_unhealthy() {
  return contract::InspectUnhealthy{0, "exited", ""};
}

// Times come from Docker; they must fall inside the window the test saw them happen in.
void expect_time_within(const Event& e, std::int64_t from, std::int64_t to) {
  EXPECT_GE(e.occurred_at_ms, from - 1000) << contract::encode_payload(e);
  EXPECT_LE(e.occurred_at_ms, to + 1000) << contract::encode_payload(e);
}

TEST_F(ServeTest, StartThenCleanExit) {
  auto d = start_daemon();
  const auto t0 = now_ms();
  const auto id = run("game-clean", {}, {"--exit-code", "0", "--exit-after-ms", "1000"});
  auto events = d->take(3);
  const auto t1 = now_ms();
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(events[0],
            ev("game-clean", id, events[0].occurred_at_ms, contract::ContainerStarted{kImage}));
  EXPECT_EQ(events[1],
            ev("game-clean", id, events[1].occurred_at_ms, contract::ContainerExited{0, false}));
  EXPECT_EQ(events[2], ev("game-clean", id, events[2].occurred_at_ms,
                          contract::InspectUnhealthy{0, "exited", ""}));
  for (const auto& e : events) {
    expect_time_within(e, t0, t1);
  }
  EXPECT_LE(events[0].occurred_at_ms, events[1].occurred_at_ms);
  d->expect_quiet(3s);
  d->stop();
}

TEST_F(ServeTest, CrashReportsItsExitCode) {
  auto d = start_daemon();
  const auto id = run("game-crash", {}, {"--exit-code", "3", "--exit-after-ms", "500"});
  auto events = d->take(3);
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(events[0].details, started_details());
  EXPECT_EQ(events[1],
            ev("game-crash", id, events[1].occurred_at_ms, contract::ContainerExited{3, false}));
  EXPECT_EQ(events[2].details, exited_unhealthy());
  d->stop();
}

TEST_F(ServeTest, OomKillUnderAMemoryLimit) {
  auto d = start_daemon();
  const auto id =
      run("game-oom", {"--memory", "32m", "--memory-swap", "32m"}, {"--oom-after-ms", "300"});
  auto events = d->take(4);
  ASSERT_EQ(events.size(), 4U);
  EXPECT_EQ(events[0].details, started_details());
  EXPECT_EQ(events[1], ev("game-oom", id, events[1].occurred_at_ms, contract::ContainerOom{137}));
  EXPECT_EQ(events[2],
            ev("game-oom", id, events[2].occurred_at_ms, contract::ContainerExited{137, true}));
  EXPECT_LE(events[1].occurred_at_ms, events[2].occurred_at_ms);
  EXPECT_EQ(events[3].details, exited_unhealthy());
  d->stop();
}

TEST_F(ServeTest, RemovedByHandIsExitedThenDisappeared) {
  auto d = start_daemon({"--inspect-interval", "1m"});
  const auto id = run("game-rm", {});
  auto started = d->take(1);
  ASSERT_EQ(started.size(), 1U);
  docker({"rm", "-f", id});
  auto events = d->take(2);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0],
            ev("game-rm", id, events[0].occurred_at_ms, contract::ContainerExited{137, false}))
      << "a kill gives 137 but is not an OOM";
  EXPECT_EQ(events[1],
            ev("game-rm", id, events[1].occurred_at_ms, contract::ContainerDisappeared{}));
  d->expect_quiet(2s);
  d->stop();
}

TEST_F(ServeTest, HealthcheckTurningUnhealthy) {
  // The probe is kept out of the way (a long grace) so only the HEALTHCHECK path speaks.
  auto d = start_daemon({"--start-grace", "1h", "--inspect-interval", "1m"});
  const auto id = run("game-hc",
                      {"--health-cmd", "/engine check --timeout-ms 200", "--health-interval",
                       "300ms", "--health-retries", "1", "--health-timeout", "1s"},
                      {"--status", "503"});
  auto events = d->take(2);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].details, started_details());
  EXPECT_EQ(events[1], ev("game-hc", id, events[1].occurred_at_ms,
                          contract::InspectUnhealthy{0, "running", "unhealthy"}));
  d->expect_quiet(2s);
  d->stop();
}

TEST_F(ServeTest, RestartPolicyShowsGrowingRestartCount) {
  auto d = start_daemon({"--inspect-interval", "500ms"});
  const auto id = run("game-restart", {"--restart", "on-failure:2"},
                      {"--exit-code", "3", "--exit-after-ms", "700"});
  // Three runs: three starts and three exits; the inspect worker sees the count grow.
  std::vector<Event> lifecycle;
  std::vector<std::int64_t> restart_counts;
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < until) {
    auto e = d->next(10s);
    if (!e) {
      break;
    }
    EXPECT_EQ(e->container_id, id);
    if (e->type() == EventType::inspect_unhealthy) {
      restart_counts.push_back(std::get<contract::InspectUnhealthy>(e->details).restart_count);
      if (std::get<contract::InspectUnhealthy>(e->details).state == "exited" &&
          restart_counts.back() == 2) {
        break;
      }
    } else {
      lifecycle.push_back(*e);
    }
  }
  std::vector<EventType> types;
  for (const auto& e : lifecycle) {
    types.push_back(e.type());
  }
  EXPECT_EQ(types,
            (std::vector<EventType>{EventType::container_started, EventType::container_exited,
                                    EventType::container_started, EventType::container_exited,
                                    EventType::container_started, EventType::container_exited}));
  for (const auto& e : lifecycle) {
    if (e.type() == EventType::container_exited) {
      EXPECT_EQ(e.details, contract::Details(contract::ContainerExited{3, false}));
    }
  }
  ASSERT_FALSE(restart_counts.empty());
  EXPECT_TRUE(std::is_sorted(restart_counts.begin(), restart_counts.end()));
  EXPECT_EQ(restart_counts.back(), 2);
  d->stop();
}

TEST_F(ServeTest, ProbeFailsHangsAndRecovers) {
  auto d = start_daemon({"--inspect-interval", "1m"});
  const auto id = run("game-probe", {});
  auto started = d->take(1);
  ASSERT_EQ(started.size(), 1U);
  d->expect_quiet(1500ms);  // healthy: probes succeed silently

  control(id, "/control/status?code=500");
  auto failed = d->take(1);
  ASSERT_EQ(failed.size(), 1U);
  EXPECT_EQ(failed[0],
            ev("game-probe", id, failed[0].occurred_at_ms, contract::ProbeFailed{3, 500, ""}));

  control(id, "/control/status?code=200");
  auto recovered = d->take(1);
  ASSERT_EQ(recovered.size(), 1U);
  ASSERT_EQ(recovered[0].type(), EventType::probe_recovered);
  EXPECT_GE(std::get<contract::ProbeRecovered>(recovered[0].details).prior_failure_count, 3);

  control(id, "/control/delay?ms=3000");
  auto hung = d->take(1);
  ASSERT_EQ(hung.size(), 1U);
  ASSERT_EQ(hung[0].type(), EventType::probe_failed);
  const auto& pf = std::get<contract::ProbeFailed>(hung[0].details);
  EXPECT_EQ(pf.consecutive_failures, 3);
  EXPECT_EQ(pf.last_status, 0);
  EXPECT_NE(pf.last_error.find("timeout"), std::string::npos) << pf.last_error;

  control(id, "/control/delay?ms=0");
  auto back = d->take(1);
  ASSERT_EQ(back.size(), 1U);
  ASSERT_EQ(back[0].type(), EventType::probe_recovered);
  EXPECT_GE(std::get<contract::ProbeRecovered>(back[0].details).prior_failure_count, 3);
  d->stop();
}

TEST_F(ServeTest, UnlabelledContainersAreIgnored) {
  auto d = start_daemon();
  const auto other = docker({"run", "-d", "--label", "galaxy.itest.other=x", kImage, "/engine",
                             "--exit-code", "1", "--exit-after-ms", "300"});
  const auto id = run("game-labelled", {});
  auto events = d->take(1);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].container_id, id);
  d->expect_quiet(2s);
  docker({"rm", "-f", other});
  d->stop();
}

TEST_F(ServeTest, DaemonRestartRepeatsNothingAndMissesNothing) {
  auto d = start_daemon({"--inspect-interval", "1m"});
  const auto a = run("game-a", {});
  ASSERT_EQ(d->take(1).size(), 1U);
  d->stop();

  // While the daemon is down: a exits, b starts.
  docker({"stop", "-t", "1", a});
  const auto b = run("game-b", {});

  auto d2 = start_daemon({"--inspect-interval", "1m"});
  auto events = d2->take(3);
  ASSERT_EQ(events.size(), 3U);
  int a_exits = 0;
  int b_starts = 0;
  for (const auto& e : events) {
    if (e.container_id == a) {
      EXPECT_NE(e.type(), EventType::container_started) << "a's start was reported already";
      a_exits += e.type() == EventType::container_exited ? 1 : 0;
    } else {
      EXPECT_EQ(e.container_id, b);
      b_starts += e.type() == EventType::container_started ? 1 : 0;
    }
  }
  EXPECT_EQ(a_exits, 1);
  EXPECT_EQ(b_starts, 1);
  d2->expect_quiet(2s);
  d2->stop();
}

TEST_F(ServeTest, DockerdRestartWhileAWatchedContainerExits) {
  const std::string state = ts::require_env("GALAXY_STATE_DIR");
  auto d = start_daemon({"--inspect-interval", "1s"});
  const auto id = run("game-dockerd", {});
  ASSERT_EQ(d->take(1).size(), 1U);
  // Stopping dockerd stops its containers: the exit happens while the daemon cannot see it.
  auto r =
      ts::run({GALAXY_SOURCE_DIR "/scripts/services", "restart", "docker", "--state", state}, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto events = d->take(2, 60s);
  ASSERT_EQ(events.size(), 2U);
  ASSERT_EQ(events[0].type(), EventType::container_exited);
  EXPECT_EQ(events[0].container_id, id);
  EXPECT_EQ(events[1].type(), EventType::inspect_unhealthy);
  d->expect_quiet(3s);  // once
  d->stop();
}

}  // namespace
