#include "galaxy/docker/parse.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace galaxy::docker {
namespace {

std::string read_testdata(const std::string& name) {
  std::ifstream in(std::string(GALAXY_DOCKER_TESTDATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> capture_lines() {
  std::istringstream in(read_testdata("events_capture.jsonl"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// --- events, from a capture of the dev dockerd (20.10, API 1.41) ----------------------------

TEST(ParseEvent, EveryCapturedLineParses) {
  const auto lines = capture_lines();
  ASSERT_EQ(lines.size(), 42U);
  for (const auto& line : lines) {
    auto e = parse_event(line);
    ASSERT_TRUE(e) << e.error().message() << "\n" << line;
    EXPECT_EQ(e->type, "container");
    EXPECT_EQ(e->actor_id.size(), 64U);
    EXPECT_EQ(e->time, e->time_nano / 1'000'000'000);
  }
}

TEST(ParseEvent, DieCarriesExitCodeAndLabelsAsStrings) {
  auto e = parse_event(capture_lines().at(8));
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->action, "die");
  EXPECT_EQ(e->actor_id, "0d9794836e7280e9c6753ec3f25d5b56ead6a9cd29670b93a1a9f71cc4bdc4d7");
  EXPECT_EQ(e->attributes.at("exitCode"), "137");
  EXPECT_EQ(e->attributes.at("galaxy.game_id"), "g-789");
  EXPECT_EQ(e->attributes.at("image"), "galaxy-docker-test:tiny");
  EXPECT_EQ(e->attributes.at("name"), "dk-sample-oom");
  EXPECT_EQ(e->time, 1795747412);
  EXPECT_EQ(e->time_nano, 1795747412879090607);
}

TEST(ParseEvent, OomAndHealthStatusActionsAreKeptVerbatim) {
  const auto lines = capture_lines();
  auto oom = parse_event(lines.at(7));
  ASSERT_TRUE(oom);
  EXPECT_EQ(oom->action, "oom");
  EXPECT_EQ(oom->attributes.count("exitCode"), 0U);
  auto health = parse_event(lines.at(11));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->action, "health_status: unhealthy");
  EXPECT_EQ(health->attributes.at("galaxy.healthz.port"), "8080");
}

TEST(ParseEvent, MinimalEventWithoutActor) {
  auto e = parse_event(R"({"Type":"container","Action":"start","time":1,"timeNano":1000000001})");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->actor_id.empty());
  EXPECT_TRUE(e->attributes.empty());
}

TEST(ParseEvent, WrongTypesNameTheMember) {
  auto e = parse_event(
      R"({"Type":"container","Action":"die","Actor":{"ID":"x","Attributes":{"exitCode":137}},)"
      R"("time":1,"timeNano":1})");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().path, "/Actor/Attributes/exitCode");

  auto t = parse_event(R"({"Type":"container","Action":"die","time":"1","timeNano":1})");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().path, "/time");

  auto a = parse_event(R"({"Type":"container","Action":7,"time":1,"timeNano":1})");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().path, "/Action");

  auto m = parse_event(R"({"Type":"container","time":1,"timeNano":1})");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().path, "/Action");
  EXPECT_EQ(m.error().reason, "missing");

  auto f = parse_event(R"({"Type":"container","Action":"x","time":1.5,"timeNano":1})");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().path, "/time");
}

TEST(ParseEvent, LabelKeysWithSlashesAreEscapedInThePath) {
  auto e = parse_event(
      R"({"Type":"container","Action":"x","Actor":{"Attributes":{"a/b~c":1}},"time":1,"timeNano":1})");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().path, "/Actor/Attributes/a~1b~0c");
}

TEST(ParseEvent, GarbageAndTruncatedInputAreErrors) {
  for (std::string_view bad : {"", "garbage", "[]", "null", "{", "\x00\xff\xfe", "{\"Type\":"}) {
    auto e = parse_event(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().path, "/");
  }
  const std::string line = capture_lines().at(8);
  for (std::size_t n = 0; n < line.size(); ++n) {
    EXPECT_FALSE(parse_event(std::string_view(line).substr(0, n))) << n;
  }
}

TEST(ParseEvent, TenMegabyteLineIsRejectedByItsSize) {
  std::string huge = R"({"Type":"container","Action":")";
  huge.append(std::size_t{10} << 20, 'a');
  huge += R"(","time":1,"timeNano":1})";
  auto e = parse_event(huge);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().reason.find("exceeds the limit of 1048576"), std::string::npos)
      << e.error().reason;
  // The same text parses when the caller allows it: the size is the only objection.
  EXPECT_TRUE(parse_event(huge, huge.size()));
}

TEST(ParseEvent, DeepNestingIsAnErrorNotARecursionCrash) {
  std::string deep(100'000, '[');
  EXPECT_FALSE(parse_event(deep));
  std::string deep_attr =
      R"({"Type":"c","Action":"a","Actor":{"Attributes":)" + std::string(40, '[');
  EXPECT_FALSE(parse_event(deep_attr));
}

// --- inspect ----------------------------------------------------------------------------------

TEST(ParseInspect, OomKilledExitedContainer) {
  auto c = parse_inspect(read_testdata("inspect_oom_killed.json"));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->id, "55e6e1d49e4537510d998db714315aaf6a618a86f98944c96289dd074b27b07b");
  EXPECT_EQ(c->name, "dk-sample-oom");
  EXPECT_EQ(c->image, "galaxy-docker-test:tiny");
  EXPECT_EQ(c->labels.at("galaxy.game_id"), "g-789");
  EXPECT_EQ(c->status, "exited");
  EXPECT_FALSE(c->running);
  EXPECT_EQ(c->exit_code, 137);
  EXPECT_TRUE(c->oom_killed);
  EXPECT_EQ(c->started_at_ms, 1795747433112);   // 2026-11-27T02:43:53.11250437Z
  EXPECT_EQ(c->finished_at_ms, 1795747433140);  // 2026-11-27T02:43:53.140008734Z
  EXPECT_EQ(c->health, "");
  EXPECT_EQ(c->restart_count, 0);
  EXPECT_EQ(c->network_mode, "default");
  EXPECT_EQ(c->networks, (std::map<std::string, std::string>{{"bridge", ""}}));
}

TEST(ParseInspect, RunningUnhealthyContainerWithIp) {
  auto c = parse_inspect(read_testdata("inspect_running_unhealthy.json"));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->status, "running");
  EXPECT_TRUE(c->running);
  EXPECT_EQ(c->health, "unhealthy");
  EXPECT_EQ(c->networks.at("bridge"), "172.31.250.2");
  EXPECT_EQ(c->labels.at("galaxy.healthz.port"), "8080");
  ASSERT_TRUE(c->finished_at_ms);  // the previous run's exit stays visible after a restart
  ASSERT_TRUE(c->started_at_ms);
  EXPECT_GT(*c->started_at_ms, *c->finished_at_ms);
}

TEST(ParseInspect, NeverStartedHasNoTimesAndNoHealth) {
  auto c = parse_inspect(read_testdata("inspect_created.json"));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->status, "created");
  EXPECT_EQ(c->started_at_ms, std::nullopt);
  EXPECT_EQ(c->finished_at_ms, std::nullopt);
  EXPECT_EQ(c->health, "");
  auto plain = parse_inspect(read_testdata("inspect_running_no_health.json"));
  ASSERT_TRUE(plain);
  EXPECT_TRUE(plain->started_at_ms.has_value());
  EXPECT_EQ(plain->finished_at_ms, std::nullopt);
  EXPECT_EQ(plain->networks.at("bridge"), "172.31.250.3");
}

TEST(ParseInspect, RestartCountIsTopLevel) {
  auto c = parse_inspect(read_testdata("inspect_restarted.json"));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->restart_count, 2);
  EXPECT_EQ(c->exit_code, 5);
}

TEST(ParseInspect, NullLabelsAndNetworksAreEmpty) {
  auto c = parse_inspect(
      R"({"Id":"x","Name":"/n","RestartCount":0,"Config":{"Image":"i","Labels":null},)"
      R"("State":{"Status":"running","Running":true,"ExitCode":0,"OOMKilled":false,)"
      R"("StartedAt":"2024-01-01T00:00:00Z","FinishedAt":"0001-01-01T00:00:00Z","Health":null},)"
      R"("HostConfig":{"NetworkMode":"host"},"NetworkSettings":{"Networks":null}})");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->labels.empty());
  EXPECT_TRUE(c->networks.empty());
  EXPECT_EQ(c->network_mode, "host");
  EXPECT_EQ(c->started_at_ms, 1704067200000);
}

TEST(ParseInspect, WrongTypesNameTheMember) {
  const std::string good = read_testdata("inspect_oom_killed.json");
  struct Case {
    std::string from;
    std::string to;
    std::string path;
  };
  const std::vector<Case> cases{
      {R"("ExitCode":137)", R"("ExitCode":"137")", "/State/ExitCode"},
      {R"("OOMKilled":true)", R"("OOMKilled":1)", "/State/OOMKilled"},
      {R"("RestartCount":0)", R"("RestartCount":null)", "/RestartCount"},
      {R"("StartedAt":"2026-11-27T02:43:53.11250437Z")", R"("StartedAt":"yesterday")",
       "/State/StartedAt"},
      {R"("galaxy.game_id":"g-789")", R"("galaxy.game_id":["g"])", "/Config/Labels/galaxy.game_id"},
      {R"("Status":"exited")", R"("Status":{})", "/State/Status"},
  };
  for (const auto& c : cases) {
    std::string text = good;
    const auto at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    auto r = parse_inspect(text);
    ASSERT_FALSE(r) << c.to;
    EXPECT_EQ(r.error().path, c.path) << r.error().message();
  }
}

TEST(ParseInspect, EveryTruncationIsAnError) {
  const std::string good = read_testdata("inspect_running_unhealthy.json");
  ASSERT_TRUE(parse_inspect(good));
  for (std::size_t n = 0; n + 1 < good.size(); ++n) {
    ASSERT_FALSE(parse_inspect(std::string_view(good).substr(0, n))) << n;
  }
}

// --- container list ---------------------------------------------------------------------------

TEST(ParseContainerList, CapturedList) {
  auto list = parse_container_list(read_testdata("list.json"));
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 3U);
  EXPECT_EQ((*list)[0].id, "6a7be48e95e56d72534b94f2da73ecdb67938d9615edbc7d0f3450aba89488f6");
  EXPECT_EQ((*list)[0].state, "created");
  EXPECT_EQ((*list)[1].state, "running");
  EXPECT_EQ((*list)[1].labels.at("galaxy.game_id"), "g-1");
  EXPECT_EQ((*list)[2].image, "galaxy-docker-test:tiny");
}

TEST(ParseContainerList, ErrorsNameTheEntry) {
  auto r = parse_container_list(R"([{"Id":"a","Labels":{},"State":"running","Image":"i"},)"
                                R"({"Id":"b","Labels":{},"State":5,"Image":"i"}])");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().path, "/1/State");
  EXPECT_FALSE(parse_container_list("{}"));
  EXPECT_FALSE(parse_container_list("[1]"));
  EXPECT_TRUE(parse_container_list("[]"));
}

// --- times and versions -----------------------------------------------------------------------

TEST(ParseDockerTime, Rfc3339NanoToEpochMs) {
  EXPECT_EQ(parse_docker_time_ms("1970-01-01T00:00:00Z").value(), 0);
  EXPECT_EQ(parse_docker_time_ms("1970-01-01T00:00:01.9999Z").value(), 1999);
  EXPECT_EQ(parse_docker_time_ms("2024-02-29T12:00:00.5Z").value(), 1709208000500);
  EXPECT_EQ(parse_docker_time_ms("2024-02-29T14:00:00.5+02:00").value(), 1709208000500);
  EXPECT_EQ(parse_docker_time_ms("2024-02-29T11:30:00.5-00:30").value(), 1709208000500);
  EXPECT_EQ(parse_docker_time_ms("0001-01-01T00:00:00Z").value(), std::nullopt);
}

TEST(ParseDockerTime, RejectsMalformed) {
  for (std::string_view bad :
       {"", "2024-02-30T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00",
        "2024-01-01T24:00:00Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1234567890Z",
        "2024-01-01T00:00:00+2:00", "2024-01-01T00:00:00Zjunk", "-024-01-01T00:00:00Z"}) {
    EXPECT_FALSE(parse_docker_time_ms(bad)) << bad;
  }
}

TEST(NegotiateApiVersion, LowerOfBothAboveTheMinimum) {
  EXPECT_EQ(negotiate_api_version("1.41").value(), (ApiVersion{1, 41}));
  EXPECT_EQ(negotiate_api_version("1.43").value(), (ApiVersion{1, 43}));
  EXPECT_EQ(negotiate_api_version("1.45").value(), (ApiVersion{1, 43}));
  EXPECT_EQ(negotiate_api_version("2.0").value(), (ApiVersion{1, 43}));
  auto old = negotiate_api_version("1.40");
  ASSERT_FALSE(old);
  EXPECT_NE(old.error().reason.find("1.40"), std::string::npos) << old.error().reason;
  EXPECT_NE(old.error().reason.find("1.41"), std::string::npos) << old.error().reason;
  EXPECT_FALSE(negotiate_api_version(""));
  EXPECT_FALSE(negotiate_api_version("1"));
  EXPECT_FALSE(negotiate_api_version("1.x"));
  EXPECT_FALSE(negotiate_api_version("1.41.2"));
}

TEST(ParseInfo, KeepsIdNameAndVersion) {
  auto info = parse_info(R"({"ID":"ABCD:EFGH","Name":"host-a","ServerVersion":"20.10.24",
                             "Containers":3})");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->id, "ABCD:EFGH");
  EXPECT_EQ(info->name, "host-a");
  EXPECT_EQ(info->server_version, "20.10.24");
}

TEST(ParseInfo, AMissingIdNamesTheMember) {
  auto info = parse_info(R"({"Name":"host-a"})");
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().path, "/ID");
  EXPECT_FALSE(parse_info("[]"));
}

}  // namespace
}  // namespace galaxy::docker
