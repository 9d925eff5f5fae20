#include "galaxy/contract/codec.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace galaxy::contract {
namespace {

constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
constexpr auto kMin = std::numeric_limits<std::int64_t>::min();

std::vector<Event> samples() {
  return {
      {"game-123", "7c2b5d1a4f6e", 1775121700000,
       ContainerStarted{"registry.example.com/galaxy/game:1.4.7"}},
      {"game-123", "7c2b5d1a4f6e", 1775121800000, ContainerExited{137, false}},
      {"g", "c", kMax, ContainerExited{kMin, true}},
      {"g", "c", kMin, ContainerOom{kMax}},
      {"ゲーム-😀", "c\"\\\n\t\x01", 0, ContainerDisappeared{}},
      {"g", "c", -1, InspectUnhealthy{3, "restarting", ""}},
      {"g", "c", 1, ProbeFailed{3, 0, "context deadline exceeded"}},
      {"g", "c", 1, ProbeFailed{3, 503, ""}},
      {"g", "c", 1, ProbeRecovered{7}},
      {"g", "c", 1, ContainerStarted{""}},
  };
}

TEST(Codec, PayloadRoundTripsEveryVariant) {
  for (const auto& e : samples()) {
    const std::string json = encode_payload(e);
    auto back = decode_payload(json);
    ASSERT_TRUE(back) << json << " -> " << back.error().message();
    EXPECT_EQ(*back, e) << json;
    EXPECT_EQ(encode_payload(*back), json);
  }
}

TEST(Codec, EntryRoundTripsEveryVariant) {
  for (const auto& e : samples()) {
    const EntryFields fields = encode_entry(e);
    ASSERT_EQ(fields.size(), 5U);
    for (std::size_t i = 0; i < fields.size(); ++i) {
      EXPECT_EQ(fields[i].name, kEntryFields[i]);
    }
    auto back = decode_entry(fields);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, e);
  }
}

TEST(Codec, CanonicalFormIsCompactInContractOrder) {
  const Event e{"game-123", "7c2b5d1a4f6e", 1775121810000,
                ProbeFailed{3, 0, "context deadline exceeded"}};
  EXPECT_EQ(encode_payload(e),
            R"({"game_id":"game-123","container_id":"7c2b5d1a4f6e","event_type":"probe_failed",)"
            R"("occurred_at_ms":1775121810000,"details":{"consecutive_failures":3,"last_status":0,)"
            R"("last_error":"context deadline exceeded"}})");
  EXPECT_EQ(encode_details(ContainerDisappeared{}), "{}");
  EXPECT_EQ(encode_entry(e)[3].value, "1775121810000");
}

TEST(Codec, AcceptsAnyFieldOrderAndWhitespace) {
  auto e = decode_payload(
      R"( { "details" : {"oom":true, "exit_code":137}, "occurred_at_ms":5, "event_type":)"
      R"("container_exited", "container_id":"c", "game_id":"g" } )");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->details, Details(ContainerExited{137, true}));
}

struct Bad {
  const char* name;
  std::string input;
  std::string path;
};

std::string with(std::string_view type, std::string_view details, std::string_view at = "1") {
  return R"({"game_id":"g","container_id":"c","event_type":")" + std::string(type) +
         R"(","occurred_at_ms":)" + std::string(at) + R"(,"details":)" + std::string(details) + "}";
}

TEST(Codec, RejectsWithPath) {
  const std::vector<Bad> cases = {
      {"not object", "[1]", "/"},
      {"empty", "", "/"},
      {"missing game_id",
       R"({"container_id":"c","event_type":"container_oom","occurred_at_ms":1,"details":{"exit_code":1}})",
       "/game_id"},
      {"missing details",
       R"({"game_id":"g","container_id":"c","event_type":"container_oom","occurred_at_ms":1})",
       "/details"},
      {"unknown top", with("container_oom", R"({"exit_code":1})").insert(1, R"("x":1,)"), "/x"},
      {"unknown in variant", with("container_oom", R"({"exit_code":1,"y":2})"), "/details/y"},
      {"unknown in empty variant", with("container_disappeared", R"({"y":2})"), "/details/y"},
      {"variant mismatch", with("container_started", R"({"exit_code":1})"), "/details"},
      {"missing variant field", with("container_exited", R"({"exit_code":1})"), "/details/oom"},
      {"bool as string", with("container_exited", R"({"exit_code":1,"oom":"true"})"),
       "/details/oom"},
      {"int as bool", with("container_oom", R"({"exit_code":true})"), "/details/exit_code"},
      {"fraction", with("container_oom", R"({"exit_code":1.0})"), "/details/exit_code"},
      {"exponent", with("container_oom", R"({"exit_code":1e2})"), "/details/exit_code"},
      {"overflow", with("container_oom", R"({"exit_code":9223372036854775808})"),
       "/details/exit_code"},
      {"underflow", with("container_oom", R"({"exit_code":-9223372036854775809})"),
       "/details/exit_code"},
      {"huge", with("container_oom", R"({"exit_code":1})", std::string(400, '9')),
       "/occurred_at_ms"},
      {"details string", with("container_oom", R"("{\"exit_code\":1}")"), "/details"},
      {"details null", with("container_disappeared", "null"), "/details"},
      {"unknown type", with("container_paused", "{}"), "/event_type"},
      {"dup top", with("container_disappeared", "{}").insert(1, R"("game_id":"h",)"), "/game_id"},
      {"dup details", with("container_oom", R"({"exit_code":1,"exit_code":2})"),
       "/details/exit_code"},
      {"empty game",
       R"({"game_id":"","container_id":"c","event_type":"container_disappeared","occurred_at_ms":1,"details":{}})",
       "/game_id"},
      {"bad utf8", with("container_started", "{\"image_ref\":\"\xc3\x28\"}"), "/details/image_ref"},
      {"trailing", with("container_disappeared", "{}") + "{}", "/"},
      {"deep", with("container_disappeared", R"({"a":)" + std::string(50, '[')), "/details/a"},
      {"too big", with("container_started", "{\"image_ref\":\"" + std::string(70000, 'x') + "\"}"),
       "/"},
  };
  for (const auto& c : cases) {
    auto r = decode_payload(c.input);
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error().path, c.path) << c.name << ": " << r.error().reason;
    EXPECT_FALSE(r.error().reason.empty()) << c.name;
  }
}

EntryFields entry(std::string_view at, std::string_view details,
                  std::string_view type = "container_oom") {
  return {{"game_id", "g"},
          {"container_id", "c"},
          {"event_type", std::string(type)},
          {"occurred_at_ms", std::string(at)},
          {"details", std::string(details)}};
}

TEST(Codec, EntryRejectsWithField) {
  EXPECT_TRUE(decode_entry(entry("-12", R"({"exit_code":1})")));
  for (const char* at :
       {"+1", "01", " 1", "1 ", "1.0", "", "-0", "-", "9223372036854775808", "1e3", "0x10"}) {
    auto r = decode_entry(entry(at, R"({"exit_code":1})"));
    ASSERT_FALSE(r) << at;
    EXPECT_EQ(r.error().path, "/occurred_at_ms") << at;
  }
  auto r = decode_entry(entry("1", R"("{\"exit_code\":1}")"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().path, "/details");
  r = decode_entry(entry("1", "not json"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().path, "/details");
  r = decode_entry(entry("1", R"({"exit_code":"1"})"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().path, "/details/exit_code");

  EntryFields extra = entry("1", R"({"exit_code":1})");
  extra.push_back({"trace_id", "x"});
  EXPECT_EQ(decode_entry(extra).error().path, "/trace_id");
  EntryFields repeated = entry("1", R"({"exit_code":1})");
  repeated.push_back({"game_id", "h"});
  EXPECT_EQ(decode_entry(repeated).error().path, "/game_id");
  EntryFields missing = entry("1", R"({"exit_code":1})");
  missing.erase(missing.begin() + 1);
  EXPECT_EQ(decode_entry(missing).error().path, "/container_id");
  EntryFields bad_utf8 = entry("1", R"({"exit_code":1})");
  bad_utf8[0].value = "\xed\xa0\x80";  // an encoded surrogate
  EXPECT_EQ(decode_entry(bad_utf8).error().path, "/game_id");
}

TEST(Codec, CheckRejectsWhatProducersMustNotEmit) {
  EXPECT_TRUE(check(Event{"g", "c", 1, ContainerDisappeared{}}));
  EXPECT_EQ(check(Event{"", "c", 1, ContainerDisappeared{}}).error().path, "/game_id");
  EXPECT_EQ(check(Event{"g", "", 1, ContainerDisappeared{}}).error().path, "/container_id");
  EXPECT_EQ(check(Event{"g", "c", 1, ProbeFailed{3, 0, "\xff"}}).error().path,
            "/details/last_error");
}

}  // namespace
}  // namespace galaxy::contract
