// DockerClient against the real dockerd at DOCKER_HOST (scripts' dev daemon: 20.10, API 1.41).
// The image is imported from a static binary built with the tests, since nothing can be pulled;
// the fake-engine tests use galaxy/fake-engine:test from scripts/fake-engine-image instead.
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "fake_docker.hpp"  // run()
#include "galaxy/docker/client.hpp"
#include "galaxy/testsupport/process.hpp"

namespace galaxy::docker {
namespace {

using galaxy::docker::testing::run;
using namespace std::chrono_literals;
namespace asio = boost::asio;

// Tagged by the binary's content, so a rebuilt binary gets a fresh image and an unchanged one is
// imported once, not once per run (each import would leave the previous image dangling).
std::string image_tag() {
  std::ifstream in(GALAXY_DOCKER_TINY_ENGINE, std::ios::binary);
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a: a cache key, not security
  for (char c; in.get(c);) {
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  }
  std::ostringstream out;
  out << "galaxy-docker-itest:" << std::hex << h;
  return out.str();
}

int shell(const std::string& cmd) {
  return std::system(cmd.c_str());  // NOLINT(cert-env33-c,concurrency-mt-unsafe): test setup only
}

class DockerClientIT : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* host = std::getenv("DOCKER_HOST");  // NOLINT(concurrency-mt-unsafe)
    ASSERT_TRUE(host != nullptr && *host != '\0')
        << "DOCKER_HOST is not set: this integration test needs a dockerd (source /tmp/gdev/env)";
    settings_ = DockerClientSettings::from_environment();
    settings_.request_timeout = 30s;
    client_.emplace(io_.get_executor(), settings_);
    auto alive = run(io_, client_->ping());
    ASSERT_TRUE(alive) << "the Docker daemon at " << host
                       << " does not answer GET /_ping: " << alive.error().message();

    std::random_device rd;
    run_id_ = "docker-itest-" + std::to_string(rd()) + std::to_string(rd());
    image_ = image_tag();
    if (shell("docker image inspect " + image_ + " >/dev/null 2>&1") == 0) {
      return;
    }
    const auto rootfs = std::filesystem::temp_directory_path() / run_id_;
    std::filesystem::create_directories(rootfs);
    std::filesystem::copy_file(GALAXY_DOCKER_TINY_ENGINE, rootfs / "engine");
    const int rc =
        shell("tar -C " + rootfs.string() +
              " -c . | docker import --change 'CMD [\"/engine\"]' - " + image_ + " >/dev/null");
    std::filesystem::remove_all(rootfs);
    ASSERT_EQ(rc, 0) << "docker import of the test image failed";
  }

  void TearDown() override {
    if (run_id_.empty()) {
      return;  // SetUp failed before anything was created
    }
    // Whatever an assertion left behind; the label is unique to this run.
    shell("docker ps -aq --filter label=galaxy.test.run=" + run_id_ +
          " | xargs -r docker rm -f >/dev/null");
  }

  ContainerCreate spec(std::vector<std::string> cmd) const {
    ContainerCreate s;
    s.image = image_;
    s.cmd = std::move(cmd);
    s.labels = {{"galaxy.test.owner", "docker"}, {"galaxy.test.run", run_id_}};
    return s;
  }

  // Lets the loop (and the events stream on it) run for a while.
  void pause(std::chrono::milliseconds d) {
    run(io_, [](asio::io_context& io, std::chrono::milliseconds t) -> asio::awaitable<int> {
      asio::steady_timer timer(io, t);
      co_await timer.async_wait(testing::kTok);
      co_return 0;
    }(io_, d));
  }

  // Polls until pred holds (it may run calls of its own) or the deadline passes.
  bool wait_for(const std::function<bool()>& pred, std::chrono::seconds deadline = 30s) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > until) {
        return false;
      }
      pause(50ms);
    }
    return true;
  }

  asio::io_context io_;
  DockerClientSettings settings_;
  std::optional<DockerClient> client_;
  std::string run_id_;
  std::string image_;
};

TEST_F(DockerClientIT, NegotiatesWithTheDaemon) {
  auto v = run(io_, client_->negotiate());
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_GE(*v, kMinimumApiVersion);
  EXPECT_LE(*v, kClientApiVersion);
  EXPECT_EQ(client_->api_version(), *v);
}

TEST_F(DockerClientIT, LifecycleEventsListAndInspect) {
  // Subscribe first (from a second ago, so nothing between subscribing and creating is lost).
  std::vector<DockerEvent> events;
  std::vector<Error> bad_lines;
  std::optional<Error> stream_end;
  asio::cancellation_signal stop_stream;
  EventsQuery q;
  q.labels = {"galaxy.test.run=" + run_id_};
  q.since_nano = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch() - 1s)
                     .count();
  asio::co_spawn(
      io_,
      client_->stream_events(q,
                             [&](Result<DockerEvent> e) {
                               if (e) {
                                 events.push_back(std::move(*e));
                               } else {
                                 bad_lines.push_back(e.error());
                               }
                             }),
      asio::bind_cancellation_slot(stop_stream.slot(), [&](const std::exception_ptr&, Error e) {
        stream_end = std::move(e);
      }));

  // An unrelated container must not show up on the filtered stream.
  auto other_spec = spec({"/engine", "exit", "0"});
  other_spec.labels.erase("galaxy.test.run");
  other_spec.labels["galaxy.test.run"] = run_id_ + "-other";
  auto other = run(io_, client_->create_container(other_spec));
  ASSERT_TRUE(other) << other.error().message();

  auto id = run(io_, client_->create_container(spec({"/engine", "exit", "7"})));
  ASSERT_TRUE(id) << id.error().message();
  auto started = run(io_, client_->start_container(*id));
  ASSERT_TRUE(started) << started.error().message();

  const auto seen = [&](std::string_view action) {
    return std::any_of(events.begin(), events.end(), [&](const DockerEvent& e) {
      return e.actor_id == *id && e.action == action;
    });
  };
  ASSERT_TRUE(wait_for([&] { return seen("die"); })) << "no die event for " << *id;
  EXPECT_TRUE(seen("start"));
  const auto die = std::find_if(events.begin(), events.end(),
                                [&](const DockerEvent& e) { return e.action == "die"; });
  EXPECT_EQ(die->attributes.at("exitCode"), "7");
  EXPECT_EQ(die->attributes.at("galaxy.test.run"), run_id_);
  EXPECT_EQ(die->attributes.at("image"), image_);
  EXPECT_GT(die->time_nano, *q.since_nano);

  // dockerd publishes "die" a moment before its state says so: wait for the state too.
  ASSERT_TRUE(wait_for([&] {
    auto o = run(io_, client_->inspect(*id));
    const auto* ci = std::get_if<ContainerInspect>(&o);
    return ci != nullptr && ci->status == "exited";
  })) << "container "
      << *id << " never reached state exited";

  auto list = run(io_, client_->list_containers("galaxy.test.run=" + run_id_));
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 1U);
  EXPECT_EQ(list->front().id, *id);
  EXPECT_EQ(list->front().state, "exited");
  EXPECT_EQ(list->front().labels.at("galaxy.test.owner"), "docker");

  auto found = run(io_, client_->inspect(*id));
  const auto* c = std::get_if<ContainerInspect>(&found);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->id, *id);
  EXPECT_EQ(c->status, "exited");
  EXPECT_EQ(c->exit_code, 7);
  EXPECT_FALSE(c->oom_killed);
  EXPECT_TRUE(c->started_at_ms.has_value());
  ASSERT_TRUE(c->finished_at_ms.has_value());
  // dockerd stamps StartedAt after the process is already running, so a container that exits at
  // once can show FinishedAt a millisecond or so before StartedAt (seen in CI).
  EXPECT_GE(*c->finished_at_ms + 1000, *c->started_at_ms);
  EXPECT_EQ(c->health, "");
  EXPECT_EQ(c->image, image_);

  auto removed = run(io_, client_->remove_container(*id, false));
  ASSERT_TRUE(removed) << removed.error().message();
  ASSERT_TRUE(wait_for([&] { return seen("destroy"); })) << "no destroy event for " << *id;
  EXPECT_TRUE(std::holds_alternative<NotFound>(run(io_, client_->inspect(*id))));
  auto again = run(io_, client_->remove_container(*id, true));
  ASSERT_FALSE(again);  // gone: the caller decides whether that is done
  EXPECT_EQ(again.error().code, "404");

  ASSERT_TRUE(run(io_, client_->remove_container(*other, true)));
  EXPECT_TRUE(std::none_of(events.begin(), events.end(),
                           [&](const DockerEvent& e) { return e.actor_id == *other; }));
  EXPECT_TRUE(bad_lines.empty());

  stop_stream.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(wait_for([&] { return stream_end.has_value(); }, 10s));
  EXPECT_TRUE(is_cancelled(*stream_end)) << stream_end->message();

  // A replay of the same span with `until` (what a resuming watcher runs before it inspects): the
  // same events, in the same order, and an end Docker makes itself.
  EventsQuery replay = q;
  replay.until_nano = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::vector<DockerEvent> replayed;
  const Error replay_end = run(io_, client_->stream_events(replay, [&](Result<DockerEvent> e) {
    ASSERT_TRUE(e) << e.error().message();
    replayed.push_back(std::move(*e));
  }));
  EXPECT_TRUE(is_complete(replay_end)) << replay_end.message();
  ASSERT_EQ(replayed.size(), events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(replayed[i].actor_id, events[i].actor_id);
    EXPECT_EQ(replayed[i].action, events[i].action);
    EXPECT_EQ(replayed[i].time_nano, events[i].time_nano);
  }
}

TEST_F(DockerClientIT, StopEndsARunningContainer) {
  auto id = run(io_, client_->create_container(spec({"/engine"})));
  ASSERT_TRUE(id) << id.error().message();
  ASSERT_TRUE(run(io_, client_->start_container(*id)));
  auto running = run(io_, client_->inspect(*id));
  ASSERT_TRUE(std::holds_alternative<ContainerInspect>(running));
  EXPECT_TRUE(std::get<ContainerInspect>(running).running);
  EXPECT_FALSE(std::get<ContainerInspect>(running).networks.empty());

  auto stopped = run(io_, client_->stop_container(*id, 5s));
  ASSERT_TRUE(stopped) << stopped.error().message();
  auto after = run(io_, client_->inspect(*id));
  ASSERT_TRUE(std::holds_alternative<ContainerInspect>(after));
  EXPECT_EQ(std::get<ContainerInspect>(after).status, "exited");
  EXPECT_EQ(std::get<ContainerInspect>(after).exit_code, 0);  // it handles SIGTERM
  EXPECT_TRUE(run(io_, client_->stop_container(*id, 1s)));    // 304: already stopped
  EXPECT_TRUE(run(io_, client_->remove_container(*id, true)));
}

// The engine image Runtime Manager's own tests run, imported by scripts/fake-engine-image.
std::string fake_engine_image() {
  return "galaxy/fake-engine:test";
}

// What the daemon itself recorded, read with the docker CLI rather than our own parser.
std::string docker_inspect(const std::string& id, const std::string& format) {
  const auto out = galaxy::testsupport::run({"docker", "inspect", "-f", format, id}, 60s);
  EXPECT_FALSE(out.timed_out);
  EXPECT_EQ(out.exit_code, 0) << out.output;
  std::string text = out.output;
  while (!text.empty() && text.back() == '\n') {
    text.pop_back();
  }
  return text;
}

TEST_F(DockerClientIT, ImageExists) {
  const std::string image = fake_engine_image();
  auto present = run(io_, client_->image_exists(image));
  ASSERT_TRUE(present) << present.error().message();
  EXPECT_TRUE(*present) << image << " is missing: run scripts/fake-engine-image first";
  auto imported = run(io_, client_->image_exists(image_));
  ASSERT_TRUE(imported) << imported.error().message();
  EXPECT_TRUE(*imported);
  auto absent = run(io_, client_->image_exists("galaxy/no-such-image:" + run_id_));
  ASSERT_TRUE(absent) << absent.error().message();
  EXPECT_FALSE(*absent);
}

TEST_F(DockerClientIT, CreateStartStopRemoveTheFakeEngine) {
  ContainerCreate create;
  create.name = run_id_;
  create.image = fake_engine_image();
  create.cmd = {"/engine", "--port", "8080"};
  create.env = {"GALAXY_ITEST_RUN=" + run_id_, "FAKE_ENGINE_STATUS=200"};
  create.labels = {{"galaxy.test.owner", "docker"},
                   {"galaxy.test.run", run_id_},
                   {"galaxy.game_id", "game-" + run_id_}};
  create.memory_bytes = std::int64_t{64} << 20;
  create.nano_cpus = 250'000'000;
  create.network = "bridge";
  auto id = run(io_, client_->create_container(create));
  ASSERT_TRUE(id) << id.error().message() << " (run scripts/fake-engine-image first?)";

  auto taken = run(io_, client_->create_container(create));
  ASSERT_FALSE(taken) << "a second container took the name " << run_id_;
  EXPECT_EQ(taken.error().kind, ErrorKind::server);
  EXPECT_EQ(taken.error().code, "409") << taken.error().message();

  auto created = run(io_, client_->inspect(*id));
  const auto* c = std::get_if<ContainerInspect>(&created);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, "created");
  EXPECT_EQ(c->name, run_id_);
  EXPECT_EQ(c->image, create.image);
  EXPECT_EQ(c->network_mode, "bridge");
  for (const auto& [key, value] : create.labels) {
    ASSERT_TRUE(c->labels.contains(key)) << key;
    EXPECT_EQ(c->labels.at(key), value) << key;
  }
  EXPECT_EQ(c->labels.at("galaxy.fixture"), "fake-engine");  // the image's own label is kept
  EXPECT_EQ(docker_inspect(*id, "{{.HostConfig.Memory}}"), std::to_string(create.memory_bytes));
  EXPECT_EQ(docker_inspect(*id, "{{.HostConfig.MemorySwap}}"), std::to_string(create.memory_bytes));
  EXPECT_EQ(docker_inspect(*id, "{{.HostConfig.NanoCpus}}"), "250000000");
  EXPECT_EQ(docker_inspect(*id, "{{json .Config.Cmd}}"), R"(["/engine","--port","8080"])");
  const std::string env = docker_inspect(*id, "{{json .Config.Env}}");
  EXPECT_NE(env.find("\"GALAXY_ITEST_RUN=" + run_id_ + "\""), std::string::npos) << env;
  EXPECT_NE(env.find("\"FAKE_ENGINE_STATUS=200\""), std::string::npos) << env;
  EXPECT_EQ(docker_inspect(*id, "{{.HostConfig.Privileged}}"), "false");
  EXPECT_EQ(docker_inspect(*id, "{{len .HostConfig.Binds}}"), "0");

  auto started = run(io_, client_->start_container(*id));
  ASSERT_TRUE(started) << started.error().message();
  auto again = run(io_, client_->start_container(*id));
  EXPECT_TRUE(again) << again.error().message();  // 304: already started
  auto running = run(io_, client_->inspect(*id));
  ASSERT_TRUE(std::holds_alternative<ContainerInspect>(running));
  EXPECT_TRUE(std::get<ContainerInspect>(running).running);

  const auto before = std::chrono::steady_clock::now();
  auto stopped = run(io_, client_->stop_container(*id, 1s));
  ASSERT_TRUE(stopped) << stopped.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 20s);
  auto after = run(io_, client_->inspect(*id));
  ASSERT_TRUE(std::holds_alternative<ContainerInspect>(after));
  EXPECT_EQ(std::get<ContainerInspect>(after).status, "exited");
  EXPECT_FALSE(std::get<ContainerInspect>(after).running);
  auto stopped_again = run(io_, client_->stop_container(*id, 1s));
  EXPECT_TRUE(stopped_again) << stopped_again.error().message();  // 304: already stopped

  auto removed = run(io_, client_->remove_container(*id, false));
  ASSERT_TRUE(removed) << removed.error().message();
  EXPECT_TRUE(std::holds_alternative<NotFound>(run(io_, client_->inspect(*id))));
}

TEST_F(DockerClientIT, RemovingAMissingContainerIs404) {
  auto gone = run(io_, client_->remove_container("galaxy-no-such-container-" + run_id_, true));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::server);
  EXPECT_EQ(gone.error().code, "404") << gone.error().message();
}

TEST_F(DockerClientIT, CreatingFromAMissingImageIs404) {
  ContainerCreate create = spec({});
  create.image = "galaxy/no-such-image:" + run_id_;
  auto id = run(io_, client_->create_container(create));
  ASSERT_FALSE(id) << "created " << *id;
  EXPECT_EQ(id.error().kind, ErrorKind::server);
  EXPECT_EQ(id.error().code, "404") << id.error().message();
  EXPECT_NE(id.error().reason.find("No such image"), std::string::npos) << id.error().reason;
}

}  // namespace
}  // namespace galaxy::docker
