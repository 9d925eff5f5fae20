#include "galaxy/sources/model.hpp"

#include <gtest/gtest.h>

#include "galaxy/contract/codec.hpp"
#include "galaxy/sources/state_store.hpp"

namespace galaxy::sources {
namespace {

using namespace std::chrono_literals;
using contract::Event;

struct RecordingSink final : contract::EventSink {
  std::vector<Event> events;
  void emit(const Event& e) override { events.push_back(e); }
};

struct RecordingActions final : ModelActions {
  std::vector<std::string> inspects;
  std::vector<std::pair<std::string, ProbeEndpoint>> probes;
  std::vector<std::string> stops;
  void inspect_now(const std::string& id) override { inspects.push_back(id); }
  void probe_start(const std::string& id, const ProbeEndpoint& t) override {
    probes.emplace_back(id, t);
  }
  void probe_stop(const std::string& id) override { stops.push_back(id); }
};

struct SetRemovals final : RemovalIntents {
  std::set<std::string> ids;
  bool initiated(const std::string& id) const override { return ids.count(id) != 0; }
};

constexpr std::int64_t kT0 = 1'775'121'700'000;  // wall ms at test start
constexpr std::int64_t kMs = 1'000'000;          // ns per ms

class ModelTest : public ::testing::Test {
 protected:
  ManualClock clock{kT0};
  RecordingSink sink;
  RecordingActions actions;
  SetRemovals removals;
  std::unique_ptr<HealthModel> model = make();

  std::unique_ptr<HealthModel> make() {
    return std::make_unique<HealthModel>(clock, sink, actions, removals, ModelSettings{});
  }

  static ContainerEvent ev(std::string action, std::int64_t at_ms, const Labels& extra = {},
                           std::string id = "c1") {
    Labels a{{"galaxy.game_id", "game-1"}, {"image", "galaxy/fake-engine:test"}};
    for (const auto& [k, v] : extra) {
      a.insert_or_assign(k, v);
    }
    return ContainerEvent{std::move(id), std::move(action), at_ms * kMs, std::move(a)};
  }

  static ContainerSnapshot snap(const std::string& status, std::int64_t started,
                                std::int64_t finished, std::int64_t exit_code = 0) {
    ContainerSnapshot s;
    s.id = "c1";
    s.labels = {{"galaxy.game_id", "game-1"}};
    s.image = "galaxy/fake-engine:test";
    s.status = status;
    s.running = status == "running";
    s.started_at_ms = started;
    s.finished_at_ms = finished;
    s.exit_code = exit_code;
    s.probe_ip = "172.17.0.2";
    return s;
  }

  std::vector<std::string> encoded() const {
    std::vector<std::string> out;
    for (const auto& e : sink.events) {
      out.push_back(contract::encode_payload(e));
    }
    return out;
  }
};

Event event(std::int64_t at, contract::Details d) {
  return Event{"game-1", "c1", at, std::move(d)};
}

TEST_F(ModelTest, StartEmitsStartedAndProbesAfterInspect) {
  model->on_event(ev("start", kT0 + 1));
  ASSERT_EQ(sink.events.size(), 1U);
  EXPECT_EQ(sink.events[0], event(kT0 + 1, contract::ContainerStarted{"galaxy/fake-engine:test"}));
  EXPECT_EQ(actions.inspects, std::vector<std::string>{"c1"});
  model->on_inspect(snap("running", kT0, 0));
  EXPECT_EQ(sink.events.size(), 1U) << "the inspect describes the start already reported";
  ASSERT_EQ(actions.probes.size(), 1U);
  EXPECT_EQ(actions.probes[0].second, (ProbeEndpoint{"172.17.0.2", 8080, "/healthz"}));
}

TEST_F(ModelTest, LabelsChooseTheProbePortAndPath) {
  model->on_event(
      ev("start", kT0 + 1, {{"galaxy.healthz.port", "9000"}, {"galaxy.healthz.path", "/ready"}}));
  auto s = snap("running", kT0, 0);
  s.labels = {{"galaxy.game_id", "game-1"},
              {"galaxy.healthz.port", "9000"},
              {"galaxy.healthz.path", "/ready"}};
  model->on_inspect(s);
  ASSERT_EQ(actions.probes.size(), 1U);
  EXPECT_EQ(actions.probes[0].second, (ProbeEndpoint{"172.17.0.2", 9000, "/ready"}));
}

TEST_F(ModelTest, DieReportsExitCodeAndStopsProbe) {
  model->on_event(ev("start", kT0 + 1));
  model->on_inspect(snap("running", kT0, 0));
  model->on_event(ev("die", kT0 + 50, {{"exitCode", "3"}}));
  ASSERT_EQ(sink.events.size(), 2U);
  EXPECT_EQ(sink.events[1], event(kT0 + 50, contract::ContainerExited{3, false}));
  EXPECT_EQ(actions.stops, std::vector<std::string>{"c1"});
}

TEST_F(ModelTest, InspectOlderThanTheDieItFollowsIsIgnored) {
  model->on_event(ev("start", kT0 + 1));
  model->on_inspect(snap("running", kT0, 0));
  model->on_event(ev("die", kT0 + 50, {{"exitCode", "3"}}));
  actions.probes.clear();
  model->on_inspect(snap("running", kT0, 0));  // answered before dockerd updated the state
  EXPECT_TRUE(actions.probes.empty()) << "no probe of a container that died";
  model->on_probe("c1", contract::ProbeFailed{3, 0, "connection refused"}, kT0 + 60);
  EXPECT_EQ(sink.events.size(), 2U);
  model->on_inspect(snap("exited", kT0, kT0 + 49, 3));
  EXPECT_EQ(sink.events.back().type(), contract::EventType::inspect_unhealthy);
}

TEST_F(ModelTest, ExitCode137AloneIsNotOom) {
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("die", kT0 + 5, {{"exitCode", "137"}}));
  clock.advance(2s);  // no oom within the window
  model->on_tick();
  EXPECT_EQ(sink.events.back(), event(kT0 + 5, contract::ContainerExited{137, false}));
}

// dockerd can deliver an OOM kill's `die` before its `oom`; the model must still put container_oom
// first and say oom:true.
TEST_F(ModelTest, OomAfterADie137InTheWindowIsAnOomKill) {
  model->on_event(ev("start", kT0 + 1));
  model->on_inspect(snap("running", kT0, 0));
  model->on_event(ev("die", kT0 + 10, {{"exitCode", "137"}}));
  clock.advance(1500ms);
  model->on_tick();
  EXPECT_EQ(sink.events.size(), 1U) << "the exit waits for an oom";
  model->on_event(ev("oom", kT0 + 11));
  ASSERT_EQ(sink.events.size(), 3U);
  EXPECT_EQ(sink.events[1], event(kT0 + 10, contract::ContainerOom{137}));
  EXPECT_EQ(sink.events[2], event(kT0 + 10, contract::ContainerExited{137, true}));
  clock.advance(10s);
  model->on_tick();
  model->on_event(ev("oom", kT0 + 12));  // another kill of the same run adds nothing
  clock.advance(10s);
  model->on_tick();
  EXPECT_EQ(sink.events.size(), 3U);
}

TEST_F(ModelTest, ADie137WithoutOomIsReportedOnceWhenTheWindowEnds) {
  model->on_event(ev("start", kT0 + 1));
  model->on_inspect(snap("running", kT0, 0));
  actions.inspects.clear();
  model->on_event(ev("die", kT0 + 10, {{"exitCode", "137"}}));
  clock.advance(500ms);
  // An inspect inside the window must neither report the exit nor its unhealthy state first.
  model->on_inspect(snap("exited", kT0, kT0 + 9, 137));
  clock.advance(1499ms);
  model->on_tick();
  EXPECT_EQ(sink.events.size(), 1U);
  clock.advance(1ms);
  model->on_tick();
  ASSERT_EQ(sink.events.size(), 2U);
  EXPECT_EQ(sink.events[1], event(kT0 + 10, contract::ContainerExited{137, false}));
  EXPECT_EQ(actions.inspects, std::vector<std::string>{"c1"}) << "for the inspect set aside";
  model->on_tick();
  model->on_inspect(snap("exited", kT0, kT0 + 9, 137));
  ASSERT_EQ(sink.events.size(), 3U);
  EXPECT_EQ(sink.events[2].type(), contract::EventType::inspect_unhealthy);
}

TEST_F(ModelTest, InspectSayingOomKilledEndsTheWaitForADie137) {
  model->on_event(ev("start", kT0 + 1));
  model->on_inspect(snap("running", kT0, 0));
  model->on_event(ev("die", kT0 + 10, {{"exitCode", "137"}}));
  clock.advance(300ms);
  auto s = snap("exited", kT0, kT0 + 9, 137);
  s.oom_killed = true;
  model->on_inspect(s);
  ASSERT_EQ(sink.events.size(), 4U);
  EXPECT_EQ(sink.events[1], event(kT0 + 10, contract::ContainerOom{137}));
  EXPECT_EQ(sink.events[2], event(kT0 + 10, contract::ContainerExited{137, true}));
  EXPECT_EQ(sink.events[3].type(), contract::EventType::inspect_unhealthy);
  model->on_event(ev("oom", kT0 + 11));  // the oom event that the inspect overtook
  clock.advance(10s);
  model->on_tick();
  EXPECT_EQ(sink.events.size(), 4U);
}

TEST_F(ModelTest, DestroyInTheWindowReportsTheHeldExitFirst) {
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("die", kT0 + 10, {{"exitCode", "137"}}));  // docker rm -f
  model->on_event(ev("destroy", kT0 + 12));
  clock.advance(5s);
  model->on_tick();
  model->on_inspect_not_found("c1");
  ASSERT_EQ(sink.events.size(), 3U);
  EXPECT_EQ(sink.events[1], event(kT0 + 10, contract::ContainerExited{137, false}));
  EXPECT_EQ(sink.events[2], event(kT0 + 12, contract::ContainerDisappeared{}));
}

TEST_F(ModelTest, DestroyWeInitiatedInTheWindowStillReportsTheExit) {
  removals.ids.insert("c1");
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("die", kT0 + 10, {{"exitCode", "137"}}));
  model->on_event(ev("destroy", kT0 + 12));
  ASSERT_EQ(sink.events.size(), 2U);
  EXPECT_EQ(sink.events[1], event(kT0 + 10, contract::ContainerExited{137, false}));
}

TEST_F(ModelTest, ARestartInTheWindowReportsTheHeldExitFirst) {
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("die", kT0 + 10, {{"exitCode", "137"}}));
  model->on_event(ev("start", kT0 + 20));
  ASSERT_EQ(sink.events.size(), 3U);
  EXPECT_EQ(sink.events[1], event(kT0 + 10, contract::ContainerExited{137, false}));
  EXPECT_EQ(sink.events[2], event(kT0 + 20, contract::ContainerStarted{"galaxy/fake-engine:test"}));
  clock.advance(5s);
  model->on_tick();
  EXPECT_EQ(sink.events.size(), 3U);
}

TEST_F(ModelTest, AnInspectOfALaterRunReportsTheHeldExitFirst) {
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("die", kT0 + 10, {{"exitCode", "137"}}));
  model->on_inspect(snap("running", kT0 + 500, kT0 + 9));  // restarted; the start event is late
  ASSERT_EQ(sink.events.size(), 3U);
  EXPECT_EQ(sink.events[1], event(kT0 + 10, contract::ContainerExited{137, false}));
  EXPECT_EQ(sink.events[2],
            event(kT0 + 500, contract::ContainerStarted{"galaxy/fake-engine:test"}));
}

TEST_F(ModelTest, OtherExitCodesAreReportedAtOnce) {
  std::int64_t t = kT0;
  for (const char* code : {"0", "1", "143"}) {
    model->on_event(ev("start", ++t));
    model->on_event(ev("die", ++t, {{"exitCode", code}}));
    EXPECT_EQ(sink.events.back(), event(t, contract::ContainerExited{std::stoi(code), false}))
        << code;
  }
  EXPECT_EQ(sink.events.size(), 6U);
}

TEST_F(ModelTest, AHeldExitSurvivesADaemonRestart) {
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("die", kT0 + 10, {{"exitCode", "137"}}));
  const ModelState saved = model->save();
  ASSERT_EQ(saved.containers.size(), 1U);
  EXPECT_EQ(saved.containers[0].held_exit, (HeldExit{137, kT0 + 10}));
  auto rebuilt = decode_state(encode_state(saved));
  ASSERT_TRUE(rebuilt) << rebuilt.error().message();
  EXPECT_EQ(*rebuilt, saved);
  sink.events.clear();

  // The oom, replayed by `since` after the restart, still pairs with the exit.
  clock.advance(30s);
  model = make();
  model->restore(saved);
  model->on_event(ev("die", kT0 + 10, {{"exitCode", "137"}}));  // replayed, dropped
  model->on_event(ev("oom", kT0 + 11));
  ASSERT_EQ(sink.events.size(), 2U);
  EXPECT_EQ(sink.events[0], event(kT0 + 10, contract::ContainerOom{137}));
  EXPECT_EQ(sink.events[1], event(kT0 + 10, contract::ContainerExited{137, true}));
  EXPECT_FALSE(model->save().containers[0].held_exit);

  // Without an oom, a fresh window after the restart ends it.
  sink.events.clear();
  model = make();
  model->restore(saved);
  clock.advance(1999ms);
  model->on_tick();
  EXPECT_TRUE(sink.events.empty());
  clock.advance(1ms);
  model->on_tick();
  ASSERT_EQ(sink.events.size(), 1U);
  EXPECT_EQ(sink.events[0], event(kT0 + 10, contract::ContainerExited{137, false}));
}

TEST_F(ModelTest, AHeldExitIsStoredRecordByRecordWithTheEventsThatEndIt) {
  std::map<std::string, std::optional<std::string>> store;
  auto absorb = [&] {
    for (auto& r : model->take_state_changes()) {
      store[r.key] = r.value;
    }
  };
  auto stored = [&] {
    std::vector<contract::StateRecord> records;
    records.reserve(store.size());
    for (const auto& [k, v] : store) {
      records.push_back({k, v});
    }
    auto state = state_from_records(records);
    EXPECT_TRUE(state) << state.error().message();
    return *state;
  };
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("die", kT0 + 10, {{"exitCode", "137"}}));
  absorb();
  ASSERT_EQ(stored().containers.size(), 1U);
  EXPECT_TRUE(stored().containers[0].held_exit);
  clock.advance(2s);
  model->on_tick();
  absorb();
  EXPECT_FALSE(stored().containers[0].held_exit);
  EXPECT_EQ(stored(), model->save());
}

TEST_F(ModelTest, OomPairsWithTheDieThatFollows) {
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("oom", kT0 + 10));
  EXPECT_EQ(sink.events.size(), 1U) << "container_oom waits for its exit code";
  clock.advance(500ms);
  model->on_tick();
  model->on_event(ev("die", kT0 + 12, {{"exitCode", "137"}}));
  ASSERT_EQ(sink.events.size(), 3U);
  EXPECT_EQ(sink.events[1], event(kT0 + 10, contract::ContainerOom{137}));
  EXPECT_EQ(sink.events[2], event(kT0 + 12, contract::ContainerExited{137, true}));
}

TEST_F(ModelTest, OomWithoutDieTakesExitCodeFromInspect) {
  model->on_event(ev("start", kT0 + 1));
  model->on_inspect(snap("running", kT0, 0));
  actions.inspects.clear();
  model->on_event(ev("oom", kT0 + 10));
  clock.advance(1999ms);
  model->on_tick();
  EXPECT_TRUE(actions.inspects.empty());
  clock.advance(1ms);
  model->on_tick();
  EXPECT_EQ(actions.inspects, std::vector<std::string>{"c1"});
  model->on_inspect(snap("running", kT0, 0));
  ASSERT_EQ(sink.events.size(), 2U);
  EXPECT_EQ(sink.events[1], event(kT0 + 10, contract::ContainerOom{0}));
  // The container lives on; its eventual exit still carries oom=true.
  model->on_event(ev("die", kT0 + 9000, {{"exitCode", "0"}}));
  EXPECT_EQ(sink.events.back(), event(kT0 + 9000, contract::ContainerExited{0, true}));
}

TEST_F(ModelTest, NewStartClearsOom) {
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("oom", kT0 + 2));
  model->on_event(ev("die", kT0 + 3, {{"exitCode", "137"}}));
  model->on_event(ev("start", kT0 + 4));
  model->on_event(ev("die", kT0 + 5, {{"exitCode", "1"}}));
  EXPECT_EQ(sink.events.back(), event(kT0 + 5, contract::ContainerExited{1, false}));
}

TEST_F(ModelTest, DestroyReportsDisappearedOnce) {
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("die", kT0 + 2, {{"exitCode", "137"}}));
  model->on_event(ev("destroy", kT0 + 3));
  model->on_inspect_not_found("c1");
  model->on_event(ev("destroy", kT0 + 4));
  ASSERT_EQ(sink.events.size(), 3U);
  EXPECT_EQ(sink.events[2], event(kT0 + 3, contract::ContainerDisappeared{}));
  EXPECT_TRUE(model->watched().empty());
}

TEST_F(ModelTest, DestroyWeInitiatedIsSilent) {
  removals.ids.insert("c1");
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("destroy", kT0 + 3));
  EXPECT_EQ(sink.events.size(), 1U);
}

TEST_F(ModelTest, InspectNotFoundReportsDisappeared) {
  model->on_event(ev("start", kT0 + 1));
  clock.advance(10s);
  model->on_inspect_not_found("c1");
  EXPECT_EQ(sink.events.back(), event(kT0 + 10'000, contract::ContainerDisappeared{}));
}

TEST_F(ModelTest, SinceReplayIsDropped) {
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("die", kT0 + 2, {{"exitCode", "0"}}));
  model->on_event(ev("die", kT0 + 2, {{"exitCode", "0"}}));  // `since` is inclusive
  model->on_event(ev("start", kT0 + 1));
  EXPECT_EQ(sink.events.size(), 2U);
  // Another event at the same instant is not a repeat.
  model->on_event(ev("destroy", kT0 + 2));
  EXPECT_EQ(sink.events.size(), 3U);
}

TEST_F(ModelTest, HealthStatusTriggersInspectOnly) {
  model->on_event(ev("start", kT0 + 1));
  actions.inspects.clear();
  model->on_event(ev("health_status: unhealthy", kT0 + 5));
  EXPECT_EQ(sink.events.size(), 1U);
  EXPECT_EQ(actions.inspects, std::vector<std::string>{"c1"});
}

TEST_F(ModelTest, UnhealthyOncePerDistinctObservation) {
  model->on_event(ev("start", kT0 + 1));
  auto s = snap("running", kT0, 0);
  model->on_inspect(s);
  s.health = "unhealthy";
  clock.advance(1s);
  model->on_inspect(s);
  model->on_inspect(s);
  ASSERT_EQ(sink.events.size(), 2U);
  EXPECT_EQ(sink.events[1],
            event(kT0 + 1000, contract::InspectUnhealthy{0, "running", "unhealthy"}));
  s.health = "healthy";
  model->on_inspect(s);
  s.health = "unhealthy";
  model->on_inspect(s);
  EXPECT_EQ(sink.events.size(), 3U) << "recovery then a relapse is news again";
}

TEST_F(ModelTest, RestartCountGrowthIsUnhealthy) {
  auto s = snap("running", kT0 - 5000, 0);
  model->on_inspect(s);
  EXPECT_TRUE(sink.events.empty()) << "baseline";
  s.restart_count = 1;
  s.started_at_ms = kT0 - 4000;
  s.finished_at_ms = kT0 - 4100;
  model->on_inspect(s);
  ASSERT_FALSE(sink.events.empty());
  EXPECT_EQ(sink.events.back(), event(kT0, contract::InspectUnhealthy{1, "running", ""}));
  const auto n = sink.events.size();
  model->on_inspect(s);
  EXPECT_EQ(sink.events.size(), n) << "no growth since the previous inspection";
}

TEST_F(ModelTest, ACreatedContainerNotYetStartedIsNoAlarm) {
  model->on_event(ev("create", kT0 + 1));
  model->on_inspect(snap("created", 0, 0));
  EXPECT_TRUE(sink.events.empty());
  model->on_event(ev("start", kT0 + 3));
  model->on_inspect(snap("running", kT0 + 2, 0));
  ASSERT_EQ(sink.events.size(), 1U);
  EXPECT_EQ(sink.events[0].type(), contract::EventType::container_started);
}

TEST_F(ModelTest, ExitedContainerIsUnhealthyOnInspect) {
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("die", kT0 + 2, {{"exitCode", "0"}}));
  clock.advance(10s);
  model->on_inspect(snap("exited", kT0, kT0 + 2));
  model->on_inspect(snap("exited", kT0, kT0 + 2));
  ASSERT_EQ(sink.events.size(), 3U);
  EXPECT_EQ(sink.events[2], event(kT0 + 10'000, contract::InspectUnhealthy{0, "exited", ""}));
}

TEST_F(ModelTest, InspectReportsAnExitTheStreamMissedOnce) {
  model->on_event(ev("start", kT0 + 1));
  model->on_inspect(snap("exited", kT0, kT0 + 40, 3));
  ASSERT_GE(sink.events.size(), 2U);
  EXPECT_EQ(sink.events[1], event(kT0 + 40, contract::ContainerExited{3, false}));
  const auto n = sink.events.size();
  model->on_event(ev("die", kT0 + 41, {{"exitCode", "3"}}));  // the late die of the same exit
  EXPECT_EQ(sink.events.size(), n);
}

TEST_F(ModelTest, AnInstantExitIsReconciledThoughFinishedAtPrecedesStartedAt) {
  model->on_event(ev("start", kT0 + 6));                   // logged after StartedAt, as always
  model->on_inspect(snap("exited", kT0 + 5, kT0 + 4, 7));  // FinishedAt before StartedAt
  ASSERT_GE(sink.events.size(), 2U);
  EXPECT_EQ(sink.events[1], event(kT0 + 4, contract::ContainerExited{7, false}));
}

TEST_F(ModelTest, InspectReportsAStartTheStreamMissed) {
  model->on_event(ev("start", kT0 + 1));
  model->on_event(ev("die", kT0 + 2, {{"exitCode", "1"}}));
  model->on_inspect(snap("running", kT0 + 500, kT0 + 2));
  EXPECT_EQ(sink.events.back(),
            event(kT0 + 500, contract::ContainerStarted{"galaxy/fake-engine:test"}));
  const auto n = sink.events.size();
  model->on_event(ev("start", kT0 + 501));
  EXPECT_EQ(sink.events.size(), n) << "the start event of that same start";
}

TEST_F(ModelTest, AStartEventBehindAnInspectOfTheEndedRunIsNotANewRun) {
  // Seen in CI on a takeover: the resync's inspect found a container that had started and exited
  // while nobody was active before the replay from the cursor delivered its start and die.
  model->on_inspect(snap("exited", kT0 + 100, kT0 + 600, 2));
  model->on_event(ev("start", kT0 + 101));
  model->on_event(ev("die", kT0 + 601, {{"exitCode", "2"}}));
  std::vector<contract::EventType> types;
  for (const auto& e : sink.events) {
    types.push_back(e.type());
  }
  using T = contract::EventType;
  EXPECT_EQ(types,
            (std::vector<T>{T::container_started, T::container_exited, T::inspect_unhealthy}))
      << "one start and one exit, each once";
}

TEST_F(ModelTest, FastCyclesAfterABaselineAreEachReported) {
  // Known at start as exited (baseline); started again and dying within the same-fact window.
  model->on_inspect(snap("exited", kT0 - 900, kT0 - 600, 0));
  sink.events.clear();  // its inspect_unhealthy
  model->on_event(ev("start", kT0 - 400));
  model->on_event(ev("die", kT0 - 100, {{"exitCode", "0"}}));
  model->on_event(ev("start", kT0 + 100));
  model->on_event(ev("die", kT0 + 300, {{"exitCode", "0"}}));
  std::vector<contract::EventType> types;
  for (const auto& e : sink.events) {
    types.push_back(e.type());
  }
  using T = contract::EventType;
  EXPECT_EQ(types, (std::vector<T>{T::container_started, T::container_exited, T::container_started,
                                   T::container_exited}));
}

TEST_F(ModelTest, FirstRunTreatsHistoryAsBaseline) {
  model->on_listed({"c1"});
  model->on_inspect(snap("running", kT0 - 60'000, 0));
  EXPECT_TRUE(sink.events.empty());
  EXPECT_EQ(actions.probes.size(), 1U);
}

TEST_F(ModelTest, RestartResumesWithoutRepeatsAndReportsWhatHappenedMeanwhile) {
  model->on_event(ev("start", kT0 + 1));
  model->on_inspect(snap("running", kT0, 0));
  const ModelState saved = model->save();
  EXPECT_FALSE(model->dirty());
  sink.events.clear();

  clock.advance(60s);
  model = make();
  model->restore(saved);
  EXPECT_EQ(model->save(), saved);
  model->on_event(ev("start", kT0 + 1));  // replayed by `since`
  model->on_inspect(snap("exited", kT0, kT0 + 30'000, 2));
  ASSERT_EQ(sink.events.size(), 2U);
  EXPECT_EQ(sink.events[0], event(kT0 + 30'000, contract::ContainerExited{2, false}));
  EXPECT_EQ(sink.events[1].type(), contract::EventType::inspect_unhealthy);

  // A container started while the daemon was away is news; one from before the cursor is not.
  auto other = snap("running", kT0 + 20'000, 0);
  other.id = "c2";
  model->on_inspect(other);
  EXPECT_EQ(sink.events.back(), (Event{"game-1", "c2", kT0 + 20'000,
                                       contract::ContainerStarted{"galaxy/fake-engine:test"}}));
}

TEST_F(ModelTest, StateChangesReplayToTheSavedState) {
  std::map<std::string, std::optional<std::string>> store;  // what a durable sink would hold
  auto absorb = [&] {
    for (auto& r : model->take_state_changes()) {
      store[r.key] = r.value;
    }
  };
  model->on_event(ev("start", kT0 + 1));
  absorb();
  EXPECT_TRUE(store.count("cursor") && store.count("container/c1"));
  EXPECT_TRUE(model->take_state_changes().empty()) << "nothing changed since";
  model->on_event(ev("start", kT0 + 2, {}, "c2"));
  model->on_event(ev("die", kT0 + 3, {{"exitCode", "1"}}));
  model->on_event(ev("destroy", kT0 + 4, {}, "c2"));
  absorb();
  EXPECT_FALSE(store.at("container/c2").has_value()) << "forgotten containers are deleted";
  std::vector<contract::StateRecord> records;
  records.reserve(store.size() + 1);
  for (const auto& [k, v] : store) {
    records.push_back({k, v});
  }
  auto rebuilt = state_from_records(records);
  ASSERT_TRUE(rebuilt) << rebuilt.error().message();
  EXPECT_EQ(*rebuilt, model->save());
  records.push_back({"container/bad", std::string("{\"id\":3}")});
  EXPECT_EQ(state_from_records(records).error().path, "container/bad/id");
}

TEST_F(ModelTest, UnlabelledAndBadLabelsAreIgnored) {
  model->on_event(ContainerEvent{"x", "start", (kT0 + 1) * kMs, {{"image", "busybox"}}});
  model->on_event(ev("start", kT0 + 2, {{"galaxy.game_id", ""}}, "c2"));
  auto bad = ev("start", kT0 + 3, {}, "c3");
  bad.attributes["galaxy.game_id"] = "game-3";
  bad.attributes["galaxy.healthz.port"] = "99999";
  model->on_event(bad);
  EXPECT_TRUE(sink.events.empty());
  EXPECT_TRUE(model->watched().empty());
}

TEST_F(ModelTest, ProbeVerdictsOnlyForTheLiveRun) {
  model->on_event(ev("start", kT0 + 1));
  model->on_probe("c1", contract::ProbeFailed{3, 500, ""}, kT0 + 5);
  EXPECT_EQ(sink.events.size(), 1U) << "not probing before the inspect gave an address";
  model->on_inspect(snap("running", kT0, 0));
  model->on_probe("c1", contract::ProbeFailed{3, 500, ""}, kT0 + 6);
  EXPECT_EQ(sink.events.back(), event(kT0 + 6, contract::ProbeFailed{3, 500, ""}));
  model->on_event(ev("die", kT0 + 7, {{"exitCode", "1"}}));
  model->on_probe("c1", contract::ProbeRecovered{3}, kT0 + 8);
  EXPECT_EQ(sink.events.back().type(), contract::EventType::container_exited);
}

TEST_F(ModelTest, AnOpenProbeEpisodeSurvivesADaemonRestart) {
  model->on_event(ev("start", kT0 + 1));
  model->on_inspect(snap("running", kT0, 0));
  model->on_probe("c1", contract::ProbeFailed{3, 500, ""}, kT0 + 6);
  const auto saved = model->save();
  model = make();
  model->restore(saved);
  model->on_inspect(snap("running", kT0, 0));
  sink.events.clear();
  model->on_probe("c1", contract::ProbeFailed{3, 500, ""}, kT0 + 9);
  EXPECT_TRUE(sink.events.empty()) << "the episode was reported before the restart";
  model->on_probe("c1", contract::ProbeRecovered{4}, kT0 + 10);
  EXPECT_EQ(sink.events.size(), 1U);
  model->on_probe("c1", contract::ProbeFailed{3, 0, "timeout"}, kT0 + 11);
  EXPECT_EQ(sink.events.size(), 2U) << "a new episode after the recovery";
}

TEST(WatchSpec, ValidatesLabels) {
  LabelSettings s;
  EXPECT_FALSE(*watch_spec({{"other", "x"}}, s));
  auto ok = watch_spec({{"galaxy.game_id", "ゲーム"}, {"galaxy.healthz.port", "81"}}, s);
  ASSERT_TRUE(ok && *ok);
  EXPECT_EQ((*ok)->port, 81);
  EXPECT_EQ((*ok)->path, "/healthz");
  for (const Labels& bad : std::vector<Labels>{
           {{"galaxy.game_id", ""}},
           {{"galaxy.game_id", std::string(257, 'g')}},
           {{"galaxy.game_id", "a\nb"}},
           {{"galaxy.game_id", "\xff"}},
       }) {
    auto r = watch_spec(bad, s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "galaxy.game_id");
  }
  for (const char* port : {"0", "65536", "", "80x", "-1"}) {
    auto r = watch_spec({{"galaxy.game_id", "g"}, {"galaxy.healthz.port", port}}, s);
    ASSERT_FALSE(r) << port;
    EXPECT_EQ(r.error().path, "galaxy.healthz.port");
  }
  for (const char* path : {"healthz", "/a b", ""}) {
    auto r = watch_spec({{"galaxy.game_id", "g"}, {"galaxy.healthz.path", path}}, s);
    ASSERT_FALSE(r) << path;
    EXPECT_EQ(r.error().path, "galaxy.healthz.path");
  }
}

}  // namespace
}  // namespace galaxy::sources
