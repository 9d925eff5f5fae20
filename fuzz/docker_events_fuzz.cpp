// Any bytes as one events-stream line: parse_event never crashes, and every error names a place
// and a reason. The same bytes also go through the RFC 3339 and API-version parsers.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "galaxy/docker/parse.hpp"

namespace {
void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace galaxy::docker;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto event = parse_event(input);
  if (!event) {
    require(!event.error().path.empty() && !event.error().reason.empty());
  }
  // A limit below the input size rejects it whatever it holds.
  if (size > 0) {
    require(!parse_event(input, size - 1));
  }
  if (auto t = parse_docker_time_ms(input); !t) {
    require(!t.error().reason.empty());
  }
  if (auto v = negotiate_api_version(input); v) {
    require(*v >= kMinimumApiVersion && *v <= kClientApiVersion);
  }
  return 0;
}
