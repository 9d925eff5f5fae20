// Any bytes into decode_payload: no crash, no leak, and every accepted payload round-trips.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "galaxy/contract/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace galaxy::contract;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto event = decode_payload(input);
  if (!event) {
    if (event.error().path.empty() || event.error().reason.empty()) {
      std::abort();  // every error names a place and a reason
    }
    return 0;
  }
  const std::string canonical = encode_payload(*event);
  auto again = decode_payload(canonical, DecodeLimits{SIZE_MAX, 8});
  if (!again || !(*again == *event) || encode_payload(*again) != canonical) {
    std::abort();
  }
  auto entry = decode_entry(encode_entry(*event), DecodeLimits{SIZE_MAX, 8});
  if (!entry || !(*entry == *event)) {
    std::abort();
  }
  return 0;
}
