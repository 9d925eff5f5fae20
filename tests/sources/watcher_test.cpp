// The Watcher's wiring against a fake Docker: no sockets, no sleeping — the loop is polled until
// it has nothing ready to run, and its paced waits (tick, backoff, pings) run on a ManualClock.
#include "galaxy/sources/watcher.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <set>
#include <utility>

namespace galaxy::sources {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

class FakeDocker final : public docker::DockerApi {
 public:
  std::vector<docker::ContainerSummary> listed;
  std::map<std::string, docker::ContainerInspect> containers;
  std::vector<docker::DockerEvent> to_stream;  // delivered on the next subscription
  std::vector<Error> stream_endings;           // how the next subscriptions end, then: stay open
  std::vector<docker::EventsQuery> queries;
  std::vector<std::string> calls;  // "replay", "events", "list", "inspect ID" in the order made
  bool hang_replays = false;       // a replay that Docker never ends (its clock behind ours)
  int inspects = 0;
  int pings = 0;
  std::optional<Error> ping_error;  // the next pings fail with this, when set
  // The lifecycle calls only record: the Watcher never makes them.
  std::vector<docker::ContainerCreate> created;
  std::vector<std::string> started;
  std::vector<std::pair<std::string, std::chrono::seconds>> stopped;
  std::vector<std::pair<std::string, bool>> removed;
  std::set<std::string> images;

  asio::awaitable<Result<docker::DockerInfo>> info() override {
    co_return docker::DockerInfo{"fake-docker-id", "fake-host", "0"};
  }
  asio::awaitable<Result<void>> ping() override {
    ++pings;
    if (ping_error) {
      co_return *ping_error;
    }
    co_return Result<void>{};
  }
  asio::awaitable<Result<std::vector<docker::ContainerSummary>>> list_containers(
      std::string /*label*/) override {
    calls.emplace_back("list");
    co_return listed;
  }
  asio::awaitable<docker::InspectOutcome> inspect(std::string id) override {
    ++inspects;
    calls.push_back("inspect " + id);
    auto it = containers.find(id);
    if (it == containers.end()) {
      co_return docker::NotFound{};
    }
    co_return it->second;
  }
  asio::awaitable<Result<std::string>> create_container(docker::ContainerCreate spec) override {
    created.push_back(std::move(spec));
    co_return "created-" + std::to_string(created.size());
  }
  asio::awaitable<Result<void>> start_container(std::string id) override {
    started.push_back(std::move(id));
    co_return Result<void>{};
  }
  asio::awaitable<Result<void>> stop_container(std::string id,
                                               std::chrono::seconds timeout) override {
    stopped.emplace_back(std::move(id), timeout);
    co_return Result<void>{};
  }
  asio::awaitable<Result<void>> remove_container(std::string id, bool force) override {
    removed.emplace_back(std::move(id), force);
    co_return Result<void>{};
  }
  asio::awaitable<Result<bool>> image_exists(std::string ref) override {
    co_return images.contains(ref);
  }
  asio::awaitable<Error> stream_events(docker::EventsQuery q,
                                       docker::EventHandler on_event) override {
    queries.push_back(q);
    calls.emplace_back(q.until_nano ? "replay" : "events");
    if (q.until_nano && !hang_replays && stream_endings.empty()) {
      // Docker's replay: what it has up to until, then the end of the body.
      std::vector<docker::DockerEvent> later;
      for (auto& e : std::exchange(to_stream, {})) {
        if (e.time_nano <= *q.until_nano) {
          on_event(e);
        } else {
          later.push_back(std::move(e));
        }
      }
      to_stream = std::move(later);
      co_return make_error(ErrorKind::closed, "GET /events", "replayed",
                           std::string(docker::kCompleteCode));
    }
    for (auto& e : std::exchange(to_stream, {})) {
      if (!q.until_nano || !hang_replays) {
        on_event(e);
      }
    }
    if (!stream_endings.empty()) {
      Error e = stream_endings.front();
      stream_endings.erase(stream_endings.begin());
      co_return e;
    }
    asio::steady_timer forever(co_await asio::this_coro::executor,
                               asio::steady_timer::time_point::max());
    error_code ec;
    co_await forever.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return docker::cancelled_error("fake events");
  }
};

struct Sink final : contract::TransitionSink {
  std::vector<contract::Transition> transitions;
  std::vector<contract::Event> events() const {
    std::vector<contract::Event> out;
    for (const auto& t : transitions) {
      out.insert(out.end(), t.events.begin(), t.events.end());
    }
    return out;
  }
  void apply(contract::Transition t) override { transitions.push_back(std::move(t)); }
};

struct Probes final : ProbeControl {
  std::map<std::string, ProbeEndpoint> active;
  void start(const std::string& id, const ProbeEndpoint& e) override { active[id] = e; }
  void stop(const std::string& id) override { active.erase(id); }
};

struct MemoryStore final : StateStore {
  std::optional<ModelState> state;
  int saves = 0;
  Result<std::optional<ModelState>> load() override { return state; }
  Result<void> save(const ModelState& s) override {
    state = s;
    ++saves;
    return {};
  }
};

docker::ContainerInspect running(std::string id, std::int64_t started_ms) {
  docker::ContainerInspect c;
  c.id = std::move(id);
  c.image = "galaxy/fake-engine:test";
  c.labels = {{"galaxy.game_id", "game-" + c.id}};
  c.status = "running";
  c.running = true;
  c.started_at_ms = started_ms;
  c.networks = {{"bridge", "172.17.0.9"}, {"galaxy", "10.1.0.9"}};
  return c;
}

docker::DockerEvent event(const std::string& id, std::string action, std::int64_t ms,
                          std::map<std::string, std::string> extra = {}) {
  docker::DockerEvent e;
  e.type = "container";
  e.action = std::move(action);
  e.actor_id = id;
  e.attributes = {{"galaxy.game_id", "game-" + id}, {"image", "galaxy/fake-engine:test"}};
  e.attributes.insert(extra.begin(), extra.end());
  e.time_nano = ms * 1'000'000;
  e.time = ms / 1000;
  return e;
}

class WatcherTest : public ::testing::Test {
 protected:
  asio::io_context ioc;
  // After ioc: the waits still pending at the end go before the loop they would complete on.
  ManualClock clock{1'775'121'700'000};
  FakeDocker docker;
  Sink sink;
  MemoryStore store;
  NoRemovalIntents removals;
  Probes probes;
  asio::cancellation_signal cancel;
  bool finished = false;
  std::unique_ptr<Watcher> watcher;

  // Reconnects at once, unless a test sets a backoff.
  static WatcherSettings settings() {
    WatcherSettings s;
    s.reconnect_min = std::chrono::milliseconds(0);
    return s;
  }
  void start(const WatcherSettings& s = settings()) {
    watcher = std::make_unique<Watcher>(ioc.get_executor(), clock, docker, sink, store, removals,
                                        probes, s);
    asio::co_spawn(ioc, watcher->run(),
                   asio::bind_cancellation_slot(cancel.slot(), [this](const std::exception_ptr& e) {
                     finished = true;
                     if (e) {
                       std::rethrow_exception(e);
                     }
                   }));
    settle();
  }
  void settle() {
    ioc.restart();  // poll() stops the context once it runs out of work
    while (ioc.poll() > 0) {
    }
  }
  // Moves simulated time on, settling the loop at every deadline on the way.
  void advance(ManualClock::duration d) {
    clock.advance(d, [this] { settle(); });
  }
  void stop() {
    cancel.emit(asio::cancellation_type::terminal);
    settle();
    ASSERT_TRUE(finished) << "run() must end promptly when cancelled";
  }
};

TEST_F(WatcherTest, FirstRunSubscribesFromNowListsAndInspects) {
  docker.listed = {{"a", {{"galaxy.game_id", "game-a"}}, "running", "img"}};
  docker.containers["a"] = running("a", clock.wall_ms() - 60'000);
  start();
  ASSERT_EQ(docker.queries.size(), 1U);
  EXPECT_EQ(docker.queries[0].since_nano, clock.wall_ms() * 1'000'000);
  EXPECT_EQ(docker.queries[0].labels, std::vector<std::string>{"galaxy.game_id"});
  EXPECT_EQ(docker.inspects, 1);
  EXPECT_TRUE(sink.events().empty()) << "a container running before our first run is baseline";
  ASSERT_EQ(probes.active.count("a"), 1U);
  EXPECT_EQ(probes.active["a"].ip, "172.17.0.9") << "first network with an IP, by name";
  stop();
}

TEST_F(WatcherTest, AHostWithoutEnginesIsSyncedOnceListed) {
  start();
  EXPECT_EQ(docker.inspects, 0);
  EXPECT_TRUE(watcher->synced()) << "nothing to inspect: the first resync is complete";
  stop();
}

TEST_F(WatcherTest, SyncedAfterTheListedContainerIsInspected) {
  docker.listed = {{"a", {{"galaxy.game_id", "game-a"}}, "running", "img"}};
  docker.containers["a"] = running("a", clock.wall_ms() - 60'000);
  start();
  EXPECT_EQ(docker.inspects, 1);
  EXPECT_TRUE(watcher->synced());
  stop();
}

TEST_F(WatcherTest, ProbesTheConfiguredNetwork) {
  docker.listed = {{"a", {{"galaxy.game_id", "game-a"}}, "running", "img"}};
  docker.containers["a"] = running("a", clock.wall_ms() - 60'000);
  WatcherSettings s = settings();
  s.network = "galaxy";
  start(s);
  EXPECT_EQ(probes.active["a"].ip, "10.1.0.9");
  stop();
}

TEST_F(WatcherTest, EventsBecomeTransitionsWithTheirMemory) {
  docker.containers["b"] = running("b", clock.wall_ms() + 5);
  docker.to_stream = {event("b", "start", clock.wall_ms() + 10),
                      event("b", "exec_start: sh", clock.wall_ms() + 11)};
  start();
  const auto events = sink.events();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0], (contract::Event{"game-b", "b", clock.wall_ms() + 10,
                                        contract::ContainerStarted{"galaxy/fake-engine:test"}}));
  const auto& state = sink.transitions.front().state;
  EXPECT_TRUE(std::any_of(state.begin(), state.end(), [](const auto& r) {
    return r.key == "cursor";
  })) << "the cursor moves in the same transition as the event it passed";
  EXPECT_EQ(probes.active.count("b"), 1U) << "the start triggered an inspect for the address";
  stop();
}

TEST_F(WatcherTest, ReconnectsResumingFromTheCursor) {
  docker.containers["c"] = running("c", clock.wall_ms() - 5000);
  docker.containers["c"].running = false;
  docker.containers["c"].status = "exited";
  docker.containers["c"].exit_code = 3;
  docker.containers["c"].finished_at_ms = clock.wall_ms() + 9;
  docker.to_stream = {event("c", "die", clock.wall_ms() + 10, {{"exitCode", "3"}})};
  docker.stream_endings = {
      make_error(ErrorKind::io, "GET /v1.41/events", "Connection reset by peer")};
  start();
  ASSERT_GE(docker.queries.size(), 2U);
  EXPECT_EQ(docker.queries[1].since_nano, (clock.wall_ms() + 10) * 1'000'000);
  EXPECT_EQ(watcher->stats().reconnects, 1U);
  const auto events = sink.events();
  ASSERT_EQ(events.size(), 2U) << "the exit once, then the inspect of the exited container";
  EXPECT_EQ(events[0].type(), contract::EventType::container_exited);
  EXPECT_EQ(events[1].type(), contract::EventType::inspect_unhealthy);
  stop();
}

TEST_F(WatcherTest, ReconnectWaitsOutTheBackoff) {
  docker.stream_endings = {make_error(ErrorKind::io, "docker", "connection reset")};
  WatcherSettings s;
  s.reconnect_min = std::chrono::milliseconds(1000);
  s.reconnect_max = std::chrono::milliseconds(1000);
  start(s);
  ASSERT_EQ(docker.queries.size(), 1U);
  EXPECT_EQ(watcher->stats().reconnects, 1U);
  // The first retry waits a jittered [500, 1000] ms.
  advance(std::chrono::milliseconds(499));
  EXPECT_EQ(docker.queries.size(), 1U) << "resubscribed within the backoff";
  advance(std::chrono::milliseconds(501));
  EXPECT_EQ(docker.queries.size(), 2U);
  stop();
}

TEST_F(WatcherTest, InspectsEveryWatchedContainerEachInterval) {
  docker.listed = {{"a", {{"galaxy.game_id", "game-a"}}, "running", "img"}};
  docker.containers["a"] = running("a", clock.wall_ms() - 60'000);
  WatcherSettings s = settings();
  s.inspect_interval = std::chrono::seconds(10);
  start(s);
  ASSERT_EQ(docker.inspects, 1) << "the resync";
  advance(s.inspect_interval - std::chrono::milliseconds(1));
  EXPECT_EQ(docker.inspects, 1) << "a round before the interval";
  advance(std::chrono::milliseconds(1));
  EXPECT_EQ(docker.inspects, 2);
  advance(s.inspect_interval);
  EXPECT_EQ(docker.inspects, 3);
  stop();
}

TEST_F(WatcherTest, PingsOnTheIntervalAndResubscribesWhenThePingFails) {
  WatcherSettings s = settings();
  s.ping_interval = std::chrono::seconds(5);
  start(s);
  advance(s.ping_interval - std::chrono::milliseconds(1));
  EXPECT_EQ(docker.pings, 0) << "pinged within the interval";
  advance(std::chrono::milliseconds(1));
  EXPECT_EQ(docker.pings, 1);
  EXPECT_EQ(docker.queries.size(), 1U) << "a live daemon keeps its subscription";
  docker.ping_error = make_error(ErrorKind::io, "docker", "connection refused");
  advance(s.ping_interval);
  EXPECT_EQ(docker.pings, 2);
  EXPECT_EQ(watcher->stats().reconnects, 1U);
  EXPECT_EQ(docker.queries.size(), 2U);
  stop();
}

TEST_F(WatcherTest, ACancelledStreamCallIsReconnectedUnlessTheWatcherIsCancelled) {
  // The call's own cancellation (as a racing operator would cause) is not the watcher's: only a
  // cancelled run() stops listening.
  docker.stream_endings = {docker::cancelled_error("GET /v1.41/events")};
  start();
  EXPECT_FALSE(finished);
  EXPECT_EQ(docker.queries.size(), 2U);
  EXPECT_EQ(watcher->stats().reconnects, 1U);
  stop();
}

TEST_F(WatcherTest, CancelSavesStateAndRestartDoesNotRepeat) {
  docker.containers["d"] = running("d", clock.wall_ms() + 5);
  docker.to_stream = {event("d", "start", clock.wall_ms() + 10)};
  start();
  stop();
  ASSERT_TRUE(store.state.has_value());
  EXPECT_EQ(store.state->cursor.time_ns, (clock.wall_ms() + 10) * 1'000'000);

  // A second daemon on the same store: `since` replays the start; nothing is reported twice.
  sink.transitions.clear();
  finished = false;
  docker.to_stream = {event("d", "start", clock.wall_ms() + 10)};
  docker.listed = {{"d", {{"galaxy.game_id", "game-d"}}, "running", "img"}};
  start();
  EXPECT_TRUE(sink.events().empty());
  EXPECT_EQ(docker.queries.back().since_nano, (clock.wall_ms() + 10) * 1'000'000);
  stop();
}

TEST_F(WatcherTest, AResumeReplaysSinceTheCursorBeforeItListsAndInspects) {
  // A container that started and exited while nobody watched this host (a takeover): its inspect
  // must not run ahead of its events, or its start would be reported twice (seen in CI).
  const auto now = clock.wall_ms();
  store.state = ModelState{};
  store.state->cursor.time_ns = (now - 3000) * 1'000'000;
  docker.containers["e"] = running("e", now - 2000);
  docker.containers["e"].running = false;
  docker.containers["e"].status = "exited";
  docker.containers["e"].exit_code = 2;
  docker.containers["e"].finished_at_ms = now - 1500;
  docker.listed = {{"e", {{"galaxy.game_id", "game-e"}}, "exited", "img"}};
  docker.to_stream = {event("e", "start", now - 1999),
                      event("e", "die", now - 1499, {{"exitCode", "2"}})};
  start();
  // The replayed start asks for an inspect of its own; the resync's list waits for the replay.
  const auto at = [&](const std::string& call) {
    return std::find(docker.calls.begin(), docker.calls.end(), call) - docker.calls.begin();
  };
  ASSERT_FALSE(docker.calls.empty());
  EXPECT_EQ(docker.calls.front(), "replay");
  EXPECT_LT(at("events"), at("list"));
  EXPECT_LT(at("list"), static_cast<std::ptrdiff_t>(docker.calls.size()));
  EXPECT_EQ(docker.queries[0].since_nano, (now - 3000) * 1'000'000);
  EXPECT_EQ(docker.queries[0].until_nano, now * 1'000'000);
  EXPECT_EQ(docker.queries[1].since_nano, now * 1'000'000) << "live from where the replay ended";
  EXPECT_FALSE(docker.queries[1].until_nano.has_value());
  EXPECT_EQ(watcher->stats().catch_ups, 1U);
  std::vector<contract::EventType> types;
  for (const auto& e : sink.events()) {
    types.push_back(e.type());
  }
  using T = contract::EventType;
  EXPECT_EQ(types,
            (std::vector<T>{T::container_started, T::container_exited, T::inspect_unhealthy}));
  stop();
}

TEST_F(WatcherTest, AReplayDockerDoesNotEndGivesWayToTheLiveStreamFromTheCursor) {
  const auto now = clock.wall_ms();
  store.state = ModelState{};
  store.state->cursor.time_ns = (now - 3000) * 1'000'000;
  docker.hang_replays = true;
  WatcherSettings s = settings();
  s.catch_up_timeout = std::chrono::seconds(10);
  start(s);
  EXPECT_EQ(docker.calls, std::vector<std::string>{"replay"});
  advance(s.catch_up_timeout - std::chrono::milliseconds(1));
  EXPECT_EQ(docker.calls, std::vector<std::string>{"replay"}) << "gave up before the timeout";
  advance(std::chrono::milliseconds(1));
  EXPECT_EQ(docker.calls, (std::vector<std::string>{"replay", "events", "list"}));
  EXPECT_EQ(docker.queries[1].since_nano, (now - 3000) * 1'000'000);
  EXPECT_EQ(watcher->stats().catch_ups, 0U);
  stop();
}

TEST_F(WatcherTest, CancelledDuringTheReplayItEndsAndSaves) {
  store.state = ModelState{};
  store.state->cursor.time_ns = (clock.wall_ms() - 3000) * 1'000'000;
  docker.hang_replays = true;
  start();
  stop();
  EXPECT_EQ(docker.calls, std::vector<std::string>{"replay"});
}

TEST_F(WatcherTest, StoresFedByTransitionsGetNoSnapshots) {
  struct RecordStore final : StateStore {
    int saves = 0;
    Result<std::optional<ModelState>> load() override { return std::optional<ModelState>{}; }
    Result<void> save(const ModelState&) override {
      ++saves;
      return {};
    }
    bool wants_snapshots() const override { return false; }
  } records;
  watcher = std::make_unique<Watcher>(ioc.get_executor(), clock, docker, sink, records, removals,
                                      probes, WatcherSettings{});
  docker.to_stream = {event("e", "start", clock.wall_ms() + 10)};
  asio::co_spawn(ioc, watcher->run(),
                 asio::bind_cancellation_slot(
                     cancel.slot(), [this](const std::exception_ptr&) { finished = true; }));
  settle();
  stop();
  EXPECT_EQ(records.saves, 0);
  EXPECT_FALSE(sink.transitions.empty()) << "the memory went out with the events instead";
}

TEST_F(WatcherTest, CorruptStateRefusesToStart) {
  struct Broken final : StateStore {
    Result<std::optional<ModelState>> load() override { return make_error("/x", "corrupt"); }
    Result<void> save(const ModelState&) override { return {}; }
  } broken;
  EXPECT_THROW(Watcher(ioc.get_executor(), clock, docker, sink, broken, removals, probes, {}),
               ErrorException);
}

}  // namespace
}  // namespace galaxy::sources
