// Any bytes as a GET /containers/{id}/json or GET /containers/json body: the parsers never crash,
// and every error names a place and a reason.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "galaxy/docker/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace galaxy::docker;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto c = parse_inspect(input); !c) {
    if (c.error().path.empty() || c.error().reason.empty()) {
      std::abort();
    }
  }
  if (auto l = parse_container_list(input); !l) {
    if (l.error().path.empty() || l.error().reason.empty()) {
      std::abort();
    }
  }
  return 0;
}
