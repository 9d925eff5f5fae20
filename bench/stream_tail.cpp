// stream_tail: follows a Redis Stream with blocking XREAD and prints every entry the moment it
// arrives, prefixed with the wall-clock time of arrival (microseconds since the epoch):
//   <arrival_us> <entry id> <field> <value> <field> <value> ...
// The latency benchmark uses it to time when an event becomes visible to a consumer.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "galaxy/redis/connection.hpp"
#include "galaxy/redis/stream_reply.hpp"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  namespace redis = galaxy::redis;
  if (argc < 4) {
    std::fprintf(stderr, "usage: stream_tail HOST PORT STREAM [FROM-ID]\n");
    return 2;
  }
  galaxy::RedisEndpoint endpoint;
  endpoint.host = argv[1];
  endpoint.port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  auto c = redis::Connection::open(endpoint, 5s, 5s);
  if (!c) {
    std::fprintf(stderr, "stream_tail: %s\n", c.error().message().c_str());
    return 1;
  }
  const std::string stream = argv[3];
  std::string last = argc > 4 ? argv[4] : "$";
  while (true) {
    // BLOCK 1000 rather than 0 so a dead server is noticed within the command's deadline.
    auto r = c->command({"XREAD", "BLOCK", "1000", "STREAMS", stream, last});
    if (!r) {
      std::fprintf(stderr, "stream_tail: %s\n", r.error().message().c_str());
      return 1;
    }
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto entries = redis::parse_read_reply(r->get());
    if (!entries) {
      std::fprintf(stderr, "stream_tail: %s (%s)\n", entries.error().message().c_str(),
                   std::string(redis::text(r->get())).c_str());
      return 1;
    }
    for (const auto& e : *entries) {
      last = e.id;
      // Appended piece by piece: `line += " " + text(...)` makes GCC 12 at -O3 report a
      // -Wrestrict false positive inside std::string's operator+ (and makes a temporary per field).
      std::string line = std::to_string(now);
      line += ' ';
      line += last;
      for (const auto& f : e.fields.value_or(galaxy::contract::EntryFields{})) {
        line += ' ';
        line += f.name;
        line += ' ';
        line += f.value;
      }
      std::printf("%s\n", line.c_str());
    }
    std::fflush(stdout);
  }
}
