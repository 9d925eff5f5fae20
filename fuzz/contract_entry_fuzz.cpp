// Any bytes, split into up to six entry fields, into decode_entry: no crash, and every accepted
// entry round-trips through the canonical encoding.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "galaxy/contract/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace galaxy::contract;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Layout: "name=value" records separated by '\n' (values may hold '=', not '\n'); a compact
  // form that lets the fuzzer reach names, values and the details JSON alike.
  std::vector<EntryFieldView> fields;
  std::size_t pos = 0;
  while (pos <= input.size() && fields.size() < 6) {
    const std::size_t end = std::min(input.find('\n', pos), input.size());
    const std::string_view record = input.substr(pos, end - pos);
    const std::size_t eq = record.find('=');
    if (eq == std::string_view::npos) {
      fields.push_back({record, {}});
    } else {
      fields.push_back({record.substr(0, eq), record.substr(eq + 1)});
    }
    pos = end + 1;
  }
  auto event = decode_entry(std::span<const EntryFieldView>(fields));
  if (!event) {
    if (event.error().path.empty() || event.error().reason.empty()) {
      std::abort();
    }
    return 0;
  }
  auto again = decode_entry(encode_entry(*event), DecodeLimits{SIZE_MAX, 8});
  if (!again || !(*again == *event)) {
    std::abort();
  }
  return 0;
}
