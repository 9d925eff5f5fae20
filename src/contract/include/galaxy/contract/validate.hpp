// The engine of `galaxy-health validate`: checks newline-delimited JSON against the contract.
// Kept out of the CLI's main so it is tested directly. Not thread-safe per call (it writes to the
// given stream); separate calls on separate streams are independent.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>

#include "galaxy/contract/codec.hpp"

namespace galaxy::contract {

enum class InputFormat : std::uint8_t {
  payload,  // each line is a payload object
  entry,    // each line is an object of the five stream fields with string values
};

struct ValidateOptions {
  InputFormat format = InputFormat::payload;
  bool json = false;       // one JSON object per input line instead of text
  bool canonical = false;  // print the canonical re-encoding of each valid line
  DecodeLimits limits;
};

struct ValidateCounts {
  std::uint64_t valid = 0;
  std::uint64_t invalid = 0;
};

// Validates one line (without its newline). The entry format's line is an object whose values
// must all be strings; its errors use the same paths as decode_entry.
Result<Event> validate_line(std::string_view line, const ValidateOptions& options);

// Reads `in` to its end, writes one result line per input line to `out`. `source` (a file name,
// or "" for stdin) is added to JSON output. Lines longer than the format's bound are reported
// invalid without being held in memory whole. Throws nothing; stream failures show in `in`/`out`.
ValidateCounts validate_stream(std::istream& in, std::ostream& out, const std::string& source,
                               const ValidateOptions& options);

}  // namespace galaxy::contract
