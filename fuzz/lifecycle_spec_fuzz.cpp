// Any bytes into parse_engine_spec and spec_from_json: no crash, no leak, every refusal is a
// complete API error, and every accepted spec reads back from its canonical form as the same
// spec and the same string.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/lifecycle/spec.hpp"

namespace {

using namespace galaxy::lifecycle;

void check(const std::variant<EngineSpec, ApiError>& parsed) {
  if (const auto* e = std::get_if<ApiError>(&parsed)) {
    if ((e->status != 400 && e->status != 422) || e->code.empty() || e->message.empty()) {
      std::abort();
    }
    return;
  }
  const auto& spec = std::get<EngineSpec>(parsed);
  const std::string canonical = spec_json(spec);
  auto again = spec_from_json(canonical);
  const auto* back = std::get_if<EngineSpec>(&again);
  if (back == nullptr || !(*back == spec) || spec_json(*back) != canonical) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static const std::vector<std::string> prefixes = {"registry.example/"};
  check(parse_engine_spec(input, prefixes));
  check(spec_from_json(input));
  return 0;
}
