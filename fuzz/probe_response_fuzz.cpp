// Arbitrary bytes as a probed server's response, through the ResponseReader the probe sessions
// use. The first byte picks the read size, so the same response also arrives split at every kind
// of boundary, as it would from a socket.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "galaxy/probe/response_reader.hpp"

namespace {

using galaxy::probe::ResponseReader;

// Small limits, so the fuzzer reaches them quickly.
constexpr std::size_t kMaxHead = 512;
constexpr std::size_t kMaxBody = 256;
constexpr std::size_t kBuffer = kMaxHead + 1024;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::size_t piece = 1 + (std::size_t{data[0]} * 7) % 1500;
  ++data;
  --size;

  std::vector<char> buffer(kBuffer);
  ResponseReader reader(std::span<char>(buffer), kMaxHead, kMaxBody);
  ResponseReader::State state = reader.state();
  std::size_t offset = 0;
  while (state == ResponseReader::State::need_more && offset < size) {
    const auto space = reader.read_space();
    check(!space.empty());
    const std::size_t n = std::min({piece, space.size(), size - offset});
    std::memcpy(space.data(), data + offset, n);
    offset += n;
    state = reader.commit(n);
  }
  if (state == ResponseReader::State::need_more) {
    state = reader.commit_eof();
  }

  check(state != ResponseReader::State::need_more);
  check(reader.bytes_received() <= kMaxHead + kBuffer + kMaxBody);
  if (state == ResponseReader::State::failed) {
    check(reader.status() == 0 && !reader.error().empty());
  } else {
    // A status means a final HTTP response head, never an interim one.
    check(reader.status() >= 100 && reader.status() <= 999 && reader.error().empty());
    check(reader.status() >= 200 || reader.status() == 101);
  }
  check(!reader.keep_alive() || state == ResponseReader::State::complete);
  return 0;
}
