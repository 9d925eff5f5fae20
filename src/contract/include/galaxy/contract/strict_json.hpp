// A strict JSON reader for contract inputs: Boost.JSON's SAX parser (it validates syntax and
// UTF-8 and bounds depth) driving a handler of ours that keeps what boost::json::value loses:
// duplicate keys (rejected, not last-wins) and the literal text of numbers (so "1.0", "1e3" and
// "9223372036854775808" are told apart from integers instead of silently becoming doubles).
// Public because every strict input of the daemon reads through it: the contract's events, and the
// engine specs of the lifecycle API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "galaxy/common/json_pointer.hpp"
#include "galaxy/common/result.hpp"

namespace galaxy::contract::strict {

enum class JsonKind : std::uint8_t {
  null,
  boolean,
  integer,       // integral literal within int64
  out_of_range,  // integral literal outside int64
  non_integer,   // literal with a fraction or an exponent
  string,
  array,
  object,
};

struct JsonMember;

struct JsonNode {
  JsonKind kind = JsonKind::null;
  bool boolean = false;
  std::int64_t integer = 0;
  std::string text;  // string value; literal text for out_of_range / non_integer numbers
  std::vector<JsonNode> elements;
  std::vector<JsonMember> members;  // input order, keys unique
};

struct JsonMember {
  std::string key;
  JsonNode value;
};

// "string", "integer", "boolean", ... for error reasons.
std::string_view describe(JsonKind kind);

// Parses exactly one JSON value (surrounding whitespace allowed). Errors carry the JSON pointer
// of the place they were found ("/" for the document as a whole); a value nested too deep is
// reported at the top-level member that holds it (the contract's "/details/KEY" one level down).
Result<JsonNode> parse_strict(std::string_view input, std::size_t max_depth);

}  // namespace galaxy::contract::strict
