#include "galaxy/contract/validate.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace galaxy::contract {
namespace {

const std::string kOk =
    R"({"game_id":"g","container_id":"c","event_type":"container_oom","occurred_at_ms":1,"details":{"exit_code":137}})";

std::string run(const std::string& input, ValidateOptions o, ValidateCounts* counts = nullptr,
                const std::string& source = "") {
  std::istringstream in(input);
  std::ostringstream out;
  auto c = validate_stream(in, out, source, o);
  if (counts != nullptr) {
    *counts = c;
  }
  return out.str();
}

TEST(Validate, OneResultLinePerInputLine) {
  ValidateCounts c;
  EXPECT_EQ(run(kOk + "\n[]\r\n\n" + kOk, {}, &c),
            "ok\ninvalid: /: must be a JSON object, got an array\n"
            "invalid: /: empty line (expected one JSON object)\nok\n");
  EXPECT_EQ(c.valid, 2U);
  EXPECT_EQ(c.invalid, 2U);
}

TEST(Validate, JsonOutputNamesLineFileAndPath) {
  ValidateOptions o;
  o.json = true;
  EXPECT_EQ(run(kOk + "\n{\"x\":1}\n", o, nullptr, "in.jsonl"),
            R"({"file":"in.jsonl","line":1,"valid":true})"
            "\n"
            R"({"file":"in.jsonl","line":2,"valid":false,"path":"/x","reason":"unknown field"})"
            "\n");
}

TEST(Validate, EntryFormatRequiresStringValues) {
  ValidateOptions o;
  o.format = InputFormat::entry;
  const std::string good =
      R"({"details":"{\"exit_code\":137}","game_id":"g","container_id":"c","event_type":"container_oom","occurred_at_ms":"1"})";
  EXPECT_EQ(run(good, o), "ok\n");
  const std::string numeric =
      R"({"details":"{\"exit_code\":137}","game_id":"g","container_id":"c","event_type":"container_oom","occurred_at_ms":1})";
  EXPECT_EQ(run(numeric, o),
            "invalid: /occurred_at_ms: stream field values are strings, got an integer\n");
  o.canonical = true;
  EXPECT_EQ(
      run(good, o),
      R"({"game_id":"g","container_id":"c","event_type":"container_oom","occurred_at_ms":"1","details":"{\"exit_code\":137}"})"
      "\n");
}

TEST(Validate, CanonicalReencodesValidLines) {
  ValidateOptions o;
  o.canonical = true;
  const std::string spaced =
      R"({ "details":{"exit_code":137}, "game_id":"g","container_id":"c","event_type":"container_oom","occurred_at_ms":1 })";
  EXPECT_EQ(run(spaced, o), kOk + "\n");
}

TEST(Validate, OverlongLineIsRejectedWithoutHoldingIt) {
  ValidateOptions o;
  o.limits.max_bytes = 200;
  EXPECT_EQ(run(std::string(1000, 'x') + "\n" + kOk, o),
            "invalid: /: line is over the limit of 200 bytes\nok\n");
}

TEST(Validate, ControlCharactersInPathsStayOnOneLine) {
  EXPECT_EQ(run(R"({"a\nb":1})", {}), "invalid: /a\\x0ab: unknown field\n");
}

}  // namespace
}  // namespace galaxy::contract
