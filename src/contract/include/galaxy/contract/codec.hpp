// Encoding and strict decoding of health events, as a payload JSON object and as the five fields
// of a Redis Stream entry (docs/stream-encoding.md).
//
// Encoding is canonical: compact JSON, fields in contract order, strings escaped the one way
// Boost.JSON's serializer does. decode(encode(e)) == e, and encode(decode(x)) == x for canonical x.
//
// Decoding is stricter than the contract's JSON Schema in two places, on purpose: the details
// variant must be the one event_type selects, and game_id / container_id must not be empty.
// Every error is an Error{path, reason}: path is a JSON pointer ("/details/exit_code"), "/" for
// the input as a whole, or "/<field>" for a stream entry field.
//
// All functions are pure and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "galaxy/common/result.hpp"
#include "galaxy/contract/event.hpp"

namespace galaxy::contract {

struct DecodeLimits {
  // A payload (or an entry's details value) longer than this is rejected before parsing.
  std::size_t max_bytes = std::size_t{64} * 1024;
  // Nesting deeper than this is rejected while parsing; a valid payload needs 2.
  std::size_t max_depth = 8;
};

// The five stream fields, in the order they are written.
inline constexpr std::array<std::string_view, 5> kEntryFields = {
    "game_id", "container_id", "event_type", "occurred_at_ms", "details"};

struct EntryField {
  std::string name;
  std::string value;
  bool operator==(const EntryField&) const = default;
};
using EntryFields = std::vector<EntryField>;

struct EntryFieldView {
  std::string_view name;
  std::string_view value;
};

// Checks the producer-side rules that the type system cannot: non-empty ids, valid UTF-8 strings.
Result<void> check(const Event& event);

std::string encode_payload(const Event& event);
std::string encode_details(const Details& details);
EntryFields encode_entry(const Event& event);

Result<Event> decode_payload(std::string_view json, const DecodeLimits& limits = {});
Result<Event> decode_entry(std::span<const EntryFieldView> fields, const DecodeLimits& limits = {});
Result<Event> decode_entry(const EntryFields& fields, const DecodeLimits& limits = {});

}  // namespace galaxy::contract
