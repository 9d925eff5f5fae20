// The engine spec's rules (spec.hpp), one accepted and one refused case at least for each, with
// the status, code and field a client would see; and the canonical form's round trip.
#include "galaxy/lifecycle/spec.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace galaxy::lifecycle {
namespace {

using Strings = std::vector<std::string>;

const std::vector<std::string> kNoPrefixes;

// The body of a minimal valid spec with `extra` members appended ("" for none).
std::string body(const std::string& extra = "") {
  return R"({"game_id":"g-1","image":"registry.example/galaxy/engine:1")" +
         (extra.empty() ? std::string() : "," + extra) + "}";
}

EngineSpec accepted(const std::string& json,
                    const std::vector<std::string>& prefixes = kNoPrefixes) {
  auto r = parse_engine_spec(json, prefixes);
  if (const auto* e = std::get_if<ApiError>(&r)) {
    ADD_FAILURE() << json << " -> " << e->code << " " << e->field << ": " << e->message;
    return {};
  }
  return std::get<EngineSpec>(r);
}

ApiError refused(const std::string& json, const std::vector<std::string>& prefixes = kNoPrefixes) {
  auto r = parse_engine_spec(json, prefixes);
  if (!std::holds_alternative<ApiError>(r)) {
    ADD_FAILURE() << json << " was accepted";
    return {};
  }
  return std::get<ApiError>(r);
}

void expect_refused(const std::string& json, unsigned status, const std::string& code,
                    const std::string& field,
                    const std::vector<std::string>& prefixes = kNoPrefixes) {
  const ApiError e = refused(json, prefixes);
  EXPECT_EQ(e.status, status) << json;
  EXPECT_EQ(e.code, code) << json << ": " << e.message;
  EXPECT_EQ(e.field, field) << json << ": " << e.message;
  EXPECT_FALSE(e.message.empty()) << json;
}

void expect_invalid(const std::string& json, const std::string& field) {
  expect_refused(json, 422, "invalid_value", field);
}

TEST(EngineSpec, AMinimalSpecHasOnlyTheRequiredFields) {
  const EngineSpec s = accepted(body());
  EXPECT_EQ(s.game_id, "g-1");
  EXPECT_EQ(s.image, "registry.example/galaxy/engine:1");
  EXPECT_TRUE(s.cmd.empty());
  EXPECT_TRUE(s.env.empty());
  EXPECT_TRUE(s.labels.empty());
  EXPECT_FALSE(s.healthz);
  EXPECT_FALSE(s.memory_bytes);
  EXPECT_FALSE(s.cpus);
  EXPECT_FALSE(s.network);
}

TEST(EngineSpec, AFullSpecIsReadFieldByField) {
  const EngineSpec s = accepted(
      R"({"game_id":"a.B_9:-","image":"r.example:5000/g/e@sha256:0123abcd","cmd":["serve","--x=1",""],)"
      R"("env":{"A":"1","_b2":"x y"},"labels":{"team":"core","com.example/x":""},)"
      R"("healthz":{"port":9000,"path":"/ready?deep=1"},"memory_bytes":6291456,"cpus":1.5,)"
      R"("network":"galaxy_net-1.x"})");
  EXPECT_EQ(s.game_id, "a.B_9:-");
  EXPECT_EQ(s.image, "r.example:5000/g/e@sha256:0123abcd");
  EXPECT_EQ(s.cmd, (std::vector<std::string>{"serve", "--x=1", ""}));
  EXPECT_EQ(s.env, (std::map<std::string, std::string>{{"A", "1"}, {"_b2", "x y"}}));
  EXPECT_EQ(s.labels,
            (std::map<std::string, std::string>{{"team", "core"}, {"com.example/x", ""}}));
  ASSERT_TRUE(s.healthz);
  EXPECT_EQ(*s.healthz, (HealthzSpec{9000, "/ready?deep=1"}));
  EXPECT_EQ(s.memory_bytes, 6291456);
  EXPECT_EQ(s.cpus, 1.5);
  EXPECT_EQ(s.network, "galaxy_net-1.x");
}

TEST(EngineSpec, TheBodyMustBeOneJsonObject) {
  for (const auto& bad :
       Strings{std::string(""), std::string("nope"), std::string("[]"), std::string("\"x\""),
               std::string("null"), body() + "{}", std::string("{\"game_id\":\"g\""),
               R"({"game_id":"g","image":"i",})",
               std::string("{\"game_id\":\"\xff\",\"image\":\"i\"}")}) {
    expect_refused(bad, 400, "malformed_json", "");
  }
}

TEST(EngineSpec, DuplicateKeysAreMalformedNotLastWins) {
  expect_refused(R"({"game_id":"a","game_id":"b","image":"i"})", 400, "malformed_json", "");
  const ApiError e = refused(body(R"("env":{"A":"1","A":"2"})"));
  EXPECT_EQ(e.code, "malformed_json");
  EXPECT_NE(e.message.find("/env/A"), std::string::npos) << e.message;
}

TEST(EngineSpec, DeepNestingIsMalformed) {
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  expect_refused(body("\"cmd\":" + deep), 400, "malformed_json", "");
  // Within the depth limit a wrong shape is named at its field.
  expect_invalid(body(R"("cmd":[["x"]])"), "/cmd/0");
}

TEST(EngineSpec, UnknownFieldsAreRefusedByName) {
  for (const auto& f : Strings{"privileged", "mounts", "binds", "cap_add", "pid_mode", "ipc_mode",
                               "user", "Image", "game-id"}) {
    expect_refused(body("\"" + f + "\":true"), 422, "unknown_field", "/" + f);
  }
  expect_refused(body(R"("healthz":{"port":80,"host":"0.0.0.0"})"), 422, "unknown_field",
                 "/healthz/host");
  // A JSON pointer escapes "/" and "~".
  expect_refused(body(R"("a/b~c":1)"), 422, "unknown_field", "/a~1b~0c");
}

TEST(EngineSpec, AnUnknownFieldWinsOverEveryOtherError) {
  expect_refused(R"({"image":"","zzz":1})", 422, "unknown_field", "/zzz");
  expect_refused(R"({"healthz":{"port":0,"extra":1},"game_id":"g","image":"i"})", 422,
                 "unknown_field", "/healthz/extra");
}

TEST(EngineSpec, GameIdAndImageAreRequired) {
  expect_refused(R"({"image":"i"})", 422, "missing_field", "/game_id");
  expect_refused(R"({"game_id":"g"})", 422, "missing_field", "/image");
  expect_refused("{}", 422, "missing_field", "/game_id");
  // Fields are checked in the documented order: a bad game_id before a missing image.
  expect_invalid(R"({"game_id":""})", "/game_id");
}

TEST(EngineSpec, GameId) {
  EXPECT_EQ(accepted(R"({"game_id":"x","image":"i"})").game_id, "x");
  const std::string longest(128, 'a');
  EXPECT_EQ(accepted(R"({"game_id":")" + longest + R"(","image":"i"})").game_id, longest);
  for (const auto& bad :
       Strings{std::string("\"\""), "\"" + std::string(129, 'a') + "\"", std::string("\"a b\""),
               std::string("\"a/b\""), std::string("\"é\""), std::string("\"a\\u0000\""),
               std::string("7"), std::string("null")}) {
    expect_invalid(R"({"game_id":)" + bad + R"(,"image":"i"})", "/game_id");
  }
}

TEST(EngineSpec, Image) {
  const std::string longest(255, 'i');
  EXPECT_EQ(accepted(R"({"game_id":"g","image":")" + longest + "\"}").image, longest);
  EXPECT_EQ(accepted(R"({"game_id":"g","image":"a/b-c_d.e:1@sha256:ff"})").image,
            "a/b-c_d.e:1@sha256:ff");
  for (const auto& bad :
       Strings{std::string("\"\""), "\"" + std::string(256, 'i') + "\"", std::string("\"a b\""),
               std::string("\"a;b\""), std::string("\"a\\nb\""), std::string("[\"a\"]")}) {
    expect_invalid(R"({"game_id":"g","image":)" + bad + "}", "/image");
  }
}

TEST(EngineSpec, ImagePrefixesLimitWhatRuns) {
  const std::vector<std::string> prefixes = {"registry.example/galaxy/", "mirror.example/"};
  EXPECT_EQ(accepted(body(), prefixes).image, "registry.example/galaxy/engine:1");
  EXPECT_EQ(accepted(R"({"game_id":"g","image":"mirror.example/x"})", prefixes).image,
            "mirror.example/x");
  const ApiError e = refused(R"({"game_id":"g","image":"registry.example/galaxy"})", prefixes);
  EXPECT_EQ(e.status, 422U);
  EXPECT_EQ(e.code, "image_not_allowed");
  EXPECT_EQ(e.field, "/image");
  EXPECT_NE(e.message.find("registry.example/galaxy/, mirror.example/"), std::string::npos)
      << e.message;
  // A prefix is a byte prefix: no case folding, no normalisation.
  expect_refused(R"({"game_id":"g","image":"Registry.example/galaxy/e"})", 422, "image_not_allowed",
                 "/image", prefixes);
  // The character rule still comes first.
  expect_invalid(R"({"game_id":"g","image":"mirror.example/a b"})", "/image");
}

TEST(EngineSpec, Cmd) {
  EXPECT_TRUE(accepted(body(R"("cmd":[])")).cmd.empty());
  std::string many = "[";
  for (int i = 0; i < 256; ++i) {
    many += (i == 0 ? "\"" : ",\"") + std::to_string(i) + "\"";
  }
  EXPECT_EQ(accepted(body("\"cmd\":" + many + "]")).cmd.size(), 256U);
  EXPECT_EQ(accepted(body("\"cmd\":[\"" + std::string(4096, 'x') + "\"]")).cmd[0].size(), 4096U);
  expect_invalid(body("\"cmd\":" + many + ",\"x\"]"), "/cmd");
  expect_invalid(body(R"("cmd":"serve")"), "/cmd");
  expect_invalid(body(R"("cmd":["a",1])"), "/cmd/1");
  expect_invalid(body(R"("cmd":["a","b\u0000c"])"), "/cmd/1");
  expect_invalid(body("\"cmd\":[\"" + std::string(4097, 'x') + "\"]"), "/cmd/0");
}

TEST(EngineSpec, Env) {
  EXPECT_EQ(accepted(body(R"("env":{"_":"","A_1":"=x"})")).env.at("A_1"), "=x");
  std::string many = "{";
  for (int i = 0; i < 257; ++i) {
    many += (i == 0 ? "\"K" : ",\"K") + std::to_string(i) + "\":\"v\"";
  }
  expect_invalid(body("\"env\":" + many + "}"), "/env");
  expect_invalid(body(R"("env":["A=1"])"), "/env");
  expect_invalid(body(R"("env":{"1A":"x"})"), "/env/1A");
  expect_invalid(body(R"("env":{"A-B":"x"})"), "/env/A-B");
  expect_invalid(body(R"("env":{"A=B":"x"})"), "/env/A=B");
  expect_invalid(body(R"("env":{"":"x"})"), "/env/");
  expect_invalid(body(R"("env":{"A":1})"), "/env/A");
  expect_invalid(body(R"("env":{"A":"x\u0000y"})"), "/env/A");
}

TEST(EngineSpec, Labels) {
  EXPECT_EQ(accepted(body(R"("labels":{"galaxyx":"1","my.galaxy.id":"2"})")).labels.size(), 2U);
  expect_invalid(body(R"("labels":{"galaxy.game_id":"other"})"), "/labels/galaxy.game_id");
  expect_invalid(body(R"("labels":{"galaxy.":"x"})"), "/labels/galaxy.");
  expect_invalid(body(R"("labels":{"":"x"})"), "/labels/");
  expect_invalid(body(R"("labels":{"a":true})"), "/labels/a");
  expect_invalid(body(R"("labels":"a=b")"), "/labels");
  std::string many = "{";
  for (int i = 0; i < 257; ++i) {
    many += (i == 0 ? "\"k" : ",\"k") + std::to_string(i) + "\":\"v\"";
  }
  expect_invalid(body("\"labels\":" + many + "}"), "/labels");
}

TEST(EngineSpec, HealthzDefaultsEachMissingMember) {
  EXPECT_EQ(*accepted(body(R"("healthz":{})")).healthz, (HealthzSpec{8080, "/healthz"}));
  EXPECT_EQ(*accepted(body(R"("healthz":{"port":1})")).healthz, (HealthzSpec{1, "/healthz"}));
  EXPECT_EQ(*accepted(body(R"("healthz":{"path":"/"})")).healthz, (HealthzSpec{8080, "/"}));
  EXPECT_EQ(accepted(body(R"("healthz":{"port":65535})")).healthz->port, 65535);
  EXPECT_EQ(accepted(body("\"healthz\":{\"path\":\"/" + std::string(1023, 'p') + "\"}"))
                .healthz->path.size(),
            1024U);
}

TEST(EngineSpec, HealthzRules) {
  expect_invalid(body(R"("healthz":8080)"), "/healthz");
  expect_invalid(body(R"("healthz":{"port":0})"), "/healthz/port");
  expect_invalid(body(R"("healthz":{"port":65536})"), "/healthz/port");
  expect_invalid(body(R"("healthz":{"port":80.5})"), "/healthz/port");
  expect_invalid(body(R"("healthz":{"port":"80"})"), "/healthz/port");
  expect_invalid(body(R"("healthz":{"path":"healthz"})"), "/healthz/path");
  expect_invalid(body(R"("healthz":{"path":"/a b"})"), "/healthz/path");
  expect_invalid(body(R"("healthz":{"path":"/a\r\nHost: x"})"), "/healthz/path");
  expect_invalid(body("\"healthz\":{\"path\":\"/" + std::string(1024, 'p') + "\"}"),
                 "/healthz/path");
}

TEST(EngineSpec, MemoryBytes) {
  EXPECT_EQ(accepted(body(R"("memory_bytes":6291456)")).memory_bytes, 6291456);
  EXPECT_EQ(accepted(body(R"("memory_bytes":1099511627776)")).memory_bytes, 1099511627776);
  for (const auto& bad : Strings{"6291455", "1099511627777", "0", "-1", "1e9", "6291456.0",
                                 "\"8G\"", "99999999999999999999"}) {
    expect_invalid(body("\"memory_bytes\":" + bad), "/memory_bytes");
  }
}

TEST(EngineSpec, Cpus) {
  EXPECT_EQ(accepted(body(R"("cpus":0.01)")).cpus, 0.01);
  EXPECT_EQ(accepted(body(R"("cpus":2)")).cpus, 2.0);
  EXPECT_EQ(accepted(body(R"("cpus":1024)")).cpus, 1024.0);
  EXPECT_EQ(accepted(body(R"("cpus":2.5e1)")).cpus, 25.0);
  for (const auto& bad :
       Strings{"0", "-1", "0.009", "1e-300", "1e-400", "1024.0001", "1e400", "\"2\"", "true"}) {
    expect_invalid(body("\"cpus\":" + bad), "/cpus");
  }
}

TEST(EngineSpec, Network) {
  for (const auto& ok : Strings{"none", "bridge", "galaxy", "a", "1_x.y-z", "Hostile"}) {
    EXPECT_EQ(accepted(body("\"network\":\"" + ok + "\"")).network, ok);
  }
  for (const auto& bad : Strings{"host", "HOST", "Host", "container:abc", "container:", "", "-x",
                                 "_x", "a b", "a/b"}) {
    expect_invalid(body("\"network\":\"" + bad + "\""), "/network");
  }
  expect_invalid(body("\"network\":\"" + std::string(256, 'n') + "\""), "/network");
  expect_invalid(body(R"("network":null)"), "/network");
}

TEST(EngineSpec, NullIsAWrongTypeNotUnset) {
  for (const auto& f : Strings{"cmd", "env", "labels", "healthz", "memory_bytes", "cpus"}) {
    expect_invalid(body("\"" + f + "\":null"), "/" + f);
  }
}

TEST(EngineSpec, CanonicalJsonSortsKeysAndOmitsWhatIsUnset) {
  EXPECT_EQ(spec_json(accepted(body())),
            R"({"game_id":"g-1","image":"registry.example/galaxy/engine:1"})");
  const EngineSpec s = accepted(
      R"({"network":"n","cpus":2,"memory_bytes":8388608,"healthz":{},"labels":{"z":"1","a":"2"},)"
      R"("env":{"B":"\"","A":"é"},"cmd":["x","\n"],"image":"i","game_id":"g"})");
  EXPECT_EQ(spec_json(s),
            R"({"cmd":["x","\n"],"cpus":2,"env":{"A":"é","B":"\""},"game_id":"g",)"
            R"("healthz":{"path":"/healthz","port":8080},"image":"i","labels":{"a":"2","z":"1"},)"
            R"("memory_bytes":8388608,"network":"n"})");
}

TEST(EngineSpec, CanonicalJsonRoundTripsAndIsEqualForEqualSpecs) {
  const std::vector<std::string> bodies = {
      body(),
      body(R"("cpus":0.01,"healthz":{"port":1,"path":"/x"})"),
      body(R"("cpus":1023.999999999,"memory_bytes":1099511627776,"network":"none")"),
      body(R"("cmd":["a\u0001","\"quoted\"","ゲーム"],"env":{"Z":"\\"},"labels":{"k":"\t"})"),
  };
  for (const auto& b : bodies) {
    const EngineSpec s = accepted(b);
    const std::string canonical = spec_json(s);
    auto back = spec_from_json(canonical);
    ASSERT_TRUE(std::holds_alternative<EngineSpec>(back)) << canonical;
    EXPECT_EQ(std::get<EngineSpec>(back), s) << canonical;
    EXPECT_EQ(spec_json(std::get<EngineSpec>(back)), canonical);
  }
  // Same meaning, other spelling: one canonical form.
  EXPECT_EQ(spec_json(accepted(body(R"("healthz":{},"cmd":[],"env":{},"cpus":2.0)"))),
            spec_json(accepted(body(R"("cpus":2,"healthz":{"path":"/healthz","port":8080})"))));
  EXPECT_EQ(spec_json(accepted(R"({"image":"i","env":{"B":"1","A":"2"},"game_id":"g"})")),
            spec_json(accepted(R"({"game_id":"g","env":{"A":"2","B":"1"},"image":"i"})")));
  EXPECT_NE(spec_json(accepted(body(R"("healthz":{})"))), spec_json(accepted(body())));
}

TEST(EngineSpec, RecordsAreReadWithoutThePrefixCheck) {
  const std::string canonical = spec_json(accepted(body()));
  expect_refused(canonical, 422, "image_not_allowed", "/image", {"other/"});
  EXPECT_TRUE(std::holds_alternative<EngineSpec>(spec_from_json(canonical)));
  EXPECT_TRUE(std::holds_alternative<ApiError>(spec_from_json("{")));
}

TEST(ApiErrorJson, HasTheThreeMembersEscaped) {
  EXPECT_EQ(error_json(ApiError{422, "unknown_field", "unknown \"x\"", "/x"}),
            R"({"error":{"code":"unknown_field","message":"unknown \"x\"","field":"/x"}})");
  EXPECT_EQ(error_json(ApiError{}), R"({"error":{"code":"","message":"","field":""}})");
}

}  // namespace
}  // namespace galaxy::lifecycle
