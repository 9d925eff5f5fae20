// The engine lifecycle API end to end: runtime-manager with its API on loopback (a token file), the
// real dockerd, Redis and PostgreSQL. Only removals nobody asked for may become
// container_disappeared; actions on one game are serialised; bad requests change nothing; a
// daemon that died between recording an intent and calling Docker finishes it at start.

#include <sys/stat.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <future>

#include "durable.hpp"

namespace {

using namespace galaxy::apptest;
using namespace std::chrono_literals;
namespace json = boost::json;
using boost::beast::http::verb;

constexpr const char* kToken = "gm-token-0123456789abcdef";

class EnginesTest : public DurableTest {
 protected:
  void SetUp() override {
    DurableTest::SetUp();
    token_file_ = state_ / "api-tokens";
    std::ofstream(token_file_) << "# Game Master's token\ngame-master " << kToken << "\n";
    ::chmod(token_file_.c_str(), 0600);
  }

  std::unique_ptr<Daemon> start_api(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--api-listen",       "127.0.0.1:" + std::to_string(api_port_),
                                     "--api-token-file",   token_file_.string(),
                                     "--inspect-interval", "1s"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto d = start_daemon(args);
    // Ready once the API answers as the active daemon (a wait on the real daemon).
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < until) {
      auto r = call(verb::get, "/v1/engines");
      if (r.status == 200) {
        return d;
      }
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "the engine API did not answer 200 within 30s";
    return d;
  }

  ts::HttpResponse call(verb method, const std::string& target, const std::string& body = "",
                        const std::string& token = kToken) {
    ts::HttpExtras extras;
    extras.body = body;
    if (!token.empty()) {
      extras.headers.emplace_back("Authorization", "Bearer " + token);
    }
    auto r = ts::http_request("127.0.0.1", api_port_, method, target, 60s, extras);
    if (!r) {
      return {0, "", r.error().message()};
    }
    return *r;
  }

  std::string create_body(const std::string& game, const std::vector<std::string>& cmd = {}) {
    json::object o;
    o["game_id"] = game;
    o["image"] = kImage;
    if (!cmd.empty()) {
      json::array c;
      c.emplace_back("/engine");
      for (const auto& a : cmd) {
        c.emplace_back(a);
      }
      o["cmd"] = std::move(c);
    }
    o["labels"] = json::object{{"team", "itest"}};
    return json::serialize(o);
  }

  static std::string field(const ts::HttpResponse& r, const char* name) {
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains(name)) {
      return "(no " + std::string(name) + " in " + r.body + ")";
    }
    const auto& f = v.as_object().at(name);
    return f.is_string() ? std::string(f.get_string()) : json::serialize(f);
  }
  static std::string error_code(const ts::HttpResponse& r) {
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("error")) {
      return "(not an error: " + r.body + ")";
    }
    return std::string(v.at("error").at("code").get_string());
  }

  std::size_t containers_of_test() {
    auto ids = ts::run({"docker", "ps", "-aq", "--filter", "label=" + label_}, 30s);
    std::istringstream in(ids.output);
    std::size_t n = 0;
    for (std::string id; in >> id;) {
      ++n;
    }
    return n;
  }

  std::uint16_t api_port_ = ts::free_port();
  std::filesystem::path token_file_;
};

// The daemon watches containers with this test's label key: the API labels what it creates with
// the daemon's --label-game-id, which DaemonTest sets to label_.

TEST_F(EnginesTest, AnEngineRemovedThroughTheApiExitsAndDoesNotDisappear) {
  auto d = start_api();
  auto created = call(verb::post, "/v1/engines", create_body("game-a"));
  ASSERT_EQ(created.status, 201U) << created.body;
  const std::string id = field(created, "container_id");
  EXPECT_EQ(field(created, "state"), "running");
  EXPECT_EQ(field(created, "action_by"), "game-master");
  wait_stream([&](const auto& es) { return has(es, id, EventType::container_started); }, 60s,
              "the engine's start");

  auto again = call(verb::post, "/v1/engines", create_body("game-a"));
  EXPECT_EQ(again.status, 200U) << "the same spec again is idempotent: " << again.body;
  EXPECT_EQ(field(again, "container_id"), id);
  auto other = call(verb::post, "/v1/engines", create_body("game-a", {"--status", "500"}));
  EXPECT_EQ(other.status, 409U) << other.body;
  EXPECT_EQ(error_code(other), "spec_conflict");

  auto removed = call(verb::delete_, "/v1/engines/game-a");
  ASSERT_EQ(removed.status, 200U) << removed.body;
  EXPECT_EQ(field(removed, "state"), "removed");
  auto entries =
      wait_stream([&](const auto& es) { return has(es, id, EventType::container_exited); }, 60s,
                  "the removed engine's exit");
  std::this_thread::sleep_for(4s);  // a destroy, an inspect round: nothing more may come
  entries = read_stream();
  EXPECT_FALSE(has(entries, id, EventType::container_disappeared))
      << "a removal the records asked for is no disappearance";
  EXPECT_EQ(containers_of_test(), 0U);
  EXPECT_EQ(call(verb::get, "/v1/engines/game-a").status, 200U) << "the record stays";
  auto list = call(verb::get, "/v1/engines");
  EXPECT_EQ(list.body, R"({"engines":[]})") << "removed engines are not listed";
}

TEST_F(EnginesTest, AnEngineRemovedByHandDisappearsExactlyOnce) {
  auto d = start_api();
  auto created = call(verb::post, "/v1/engines", create_body("game-b"));
  ASSERT_EQ(created.status, 201U) << created.body;
  const std::string id = field(created, "container_id");
  wait_stream([&](const auto& es) { return has(es, id, EventType::container_started); }, 60s,
              "the engine's start");
  docker({"rm", "-f", id});
  auto entries =
      wait_stream([&](const auto& es) { return has(es, id, EventType::container_disappeared); },
                  60s, "the disappearance");
  std::this_thread::sleep_for(3s);
  entries = read_stream();
  EXPECT_EQ(std::count_if(
                entries.begin(), entries.end(),
                [&](const Entry& e) { return e.event.type() == EventType::container_disappeared; }),
            1);
  auto shown = call(verb::get, "/v1/engines/game-b");
  EXPECT_EQ(field(shown, "container_missing"), "true") << shown.body;
}

TEST_F(EnginesTest, ARestartMakesANewContainerAndTheOldOneDoesNotDisappear) {
  auto d = start_api();
  auto created = call(verb::post, "/v1/engines", create_body("game-c"));
  ASSERT_EQ(created.status, 201U) << created.body;
  const std::string old_id = field(created, "container_id");
  wait_stream([&](const auto& es) { return has(es, old_id, EventType::container_started); }, 60s,
              "the first start");
  auto restarted = call(verb::post, "/v1/engines/game-c/restart");
  ASSERT_EQ(restarted.status, 200U) << restarted.body;
  const std::string new_id = field(restarted, "container_id");
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(field(restarted, "incarnation"), "2");
  auto entries = wait_stream(
      [&](const auto& es) {
        return has(es, new_id, EventType::container_started) &&
               has(es, old_id, EventType::container_exited);
      },
      60s, "the old one's exit and the new one's start");
  std::this_thread::sleep_for(3s);
  entries = read_stream();
  EXPECT_FALSE(has(entries, old_id, EventType::container_disappeared));
  for (const auto& e : entries) {
    EXPECT_EQ(e.event.game_id, "game-c");
  }
}

TEST_F(EnginesTest, ASecondActionWhileOneRunsIsRefusedWith409) {
  auto d = start_api();
  auto created = call(verb::post, "/v1/engines", create_body("game-d", {"--ignore-sigterm"}));
  ASSERT_EQ(created.status, 201U) << created.body;
  // The stop waits its 3 s timeout (the engine ignores SIGTERM); a restart meanwhile is refused.
  auto stopping = std::async(std::launch::async, [&] {
    return call(verb::post, "/v1/engines/game-d/stop", R"({"timeout_s": 3})");
  });
  std::this_thread::sleep_for(1s);
  auto refused = call(verb::post, "/v1/engines/game-d/restart");
  EXPECT_EQ(refused.status, 409U) << refused.body;
  EXPECT_EQ(error_code(refused), "action_in_progress");
  auto stopped = stopping.get();
  EXPECT_EQ(stopped.status, 200U) << stopped.body;
  EXPECT_EQ(field(stopped, "state"), "stopped");
}

TEST_F(EnginesTest, BadRequestsGetTheirStatusAndCreateNothing) {
  auto d = start_api({"--engine-image-prefix", "galaxy/"});
  const std::string good = create_body("game-e");
  EXPECT_EQ(call(verb::post, "/v1/engines", good, "").status, 401U) << "no token";
  EXPECT_EQ(call(verb::post, "/v1/engines", good, "wrong-token-0123456789").status, 401U);
  auto unknown =
      call(verb::post, "/v1/engines",
           R"({"game_id":"game-e","image":"galaxy/fake-engine:test","privileged":true})");
  EXPECT_EQ(unknown.status, 422U) << unknown.body;
  EXPECT_NE(unknown.body.find("/privileged"), std::string::npos) << unknown.body;
  auto prefix =
      call(verb::post, "/v1/engines", R"({"game_id":"game-e","image":"evil/miner:latest"})");
  EXPECT_EQ(prefix.status, 422U) << prefix.body;
  EXPECT_EQ(error_code(prefix), "image_not_allowed");
  auto malformed = call(verb::post, "/v1/engines", R"({"game_id": "game-e",)");
  EXPECT_EQ(malformed.status, 400U) << malformed.body;
  auto huge = call(verb::post, "/v1/engines",
                   R"({"game_id":"game-e","image":"galaxy/x","labels":{"a":")" +
                       std::string(1 << 20, 'x') + "\"}}");
  EXPECT_EQ(huge.status, 413U) << huge.body.substr(0, 200);
  auto missing = call(verb::get, "/v1/engines/no-such-game");
  EXPECT_EQ(missing.status, 404U) << missing.body;
  EXPECT_EQ(call(verb::post, "/v1/engines/no-such-game/stop").status, 404U);
  EXPECT_EQ(call(verb::delete_, "/v1/engines/no-such-game").status, 404U);
  EXPECT_EQ(call(verb::get, "/v1/engines").body, R"({"engines":[]})");
  EXPECT_EQ(containers_of_test(), 0U);
  EXPECT_EQ(sql(db_url_, "SELECT count(*) FROM runtime_records")[0][0], "0");
}

// The daemon died after committing intents and before calling Docker: one to create an engine,
// one to remove a running one. At its next start it finishes both, once.
TEST_F(EnginesTest, IntentsLeftByACrashAreFinishedAtStartOnce) {
  auto d = start_api();
  auto created = call(verb::post, "/v1/engines", create_body("game-rm"));
  ASSERT_EQ(created.status, 201U) << created.body;
  const std::string doomed = field(created, "container_id");
  wait_stream([&](const auto& es) { return has(es, doomed, EventType::container_started); }, 60s,
              "game-rm's start");
  d->kill9();
  const std::string host = host_id();
  sql(db_url_,
      "UPDATE runtime_records SET desired = 'removed', action = 'remove', action_by = 'gm' "
      "WHERE game_id = 'game-rm'");
  sql(db_url_,
      "INSERT INTO runtime_records (host_id, game_id, incarnation, current, spec, desired, state, "
      "action, action_by) VALUES ('" +
          host + "', 'game-new', 1, true, '" + R"({"game_id":"game-new","image":")" + kImage +
          R"("})" + "', 'running', 'pending', 'create', 'gm')");

  auto d2 = start_api();
  auto entries = wait_stream(
      [&](const auto& es) {
        return has(es, doomed, EventType::container_exited) &&
               std::any_of(es.begin(), es.end(), [](const Entry& e) {
                 return e.event.game_id == "game-new" &&
                        e.event.type() == EventType::container_started;
               });
      },
      60s, "the finished remove and create");
  std::this_thread::sleep_for(3s);
  entries = read_stream();
  EXPECT_FALSE(has(entries, doomed, EventType::container_disappeared));
  EXPECT_EQ(std::count_if(entries.begin(), entries.end(),
                          [](const Entry& e) {
                            return e.event.game_id == "game-new" &&
                                   e.event.type() == EventType::container_started;
                          }),
            1);
  EXPECT_EQ(containers_of_test(), 1U) << "game-new only";
  auto shown = call(verb::get, "/v1/engines/game-new");
  EXPECT_EQ(field(shown, "state"), "running") << shown.body;
  EXPECT_EQ(field(shown, "action"), "null");
  EXPECT_EQ(sql(db_url_, "SELECT state FROM runtime_records WHERE game_id = 'game-rm'")[0][0],
            "removed");
}

}  // namespace
