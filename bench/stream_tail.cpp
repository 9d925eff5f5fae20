// stream_tail: follows a Redis Stream with blocking XREAD and prints every entry the moment it
// arrives, prefixed with the wall-clock time of arrival (microseconds since the epoch):
//   <arrival_us> <entry id> <field> <value> <field> <value> ...
// The latency benchmark uses it to time when an event becomes visible to a consumer.
#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

std::string text(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
             ? std::string(r->str, r->len)
             : std::string();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: stream_tail HOST PORT STREAM [FROM-ID]\n");
    return 2;
  }
  const timeval connect_timeout{5, 0};
  std::unique_ptr<redisContext, decltype(&redisFree)> c(
      redisConnectWithTimeout(argv[1], std::atoi(argv[2]), connect_timeout), &redisFree);
  if (!c || c->err != 0) {
    std::fprintf(stderr, "stream_tail: cannot connect to %s:%s: %s\n", argv[1], argv[2],
                 c ? c->errstr : "out of memory");
    return 1;
  }
  std::string last = argc > 4 ? argv[4] : "$";
  while (true) {
    // BLOCK 1000 rather than 0 so a dead server is noticed (the read has no deadline of its own
    // beyond the socket's, which hiredis leaves unset for blocking contexts).
    Reply r(static_cast<redisReply*>(
        redisCommand(c.get(), "XREAD BLOCK 1000 STREAMS %s %s", argv[3], last.c_str())));
    if (!r) {
      std::fprintf(stderr, "stream_tail: %s\n", c->errstr);
      return 1;
    }
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    if (r->type == REDIS_REPLY_NIL) {
      continue;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1) {
      std::fprintf(stderr, "stream_tail: unexpected reply: %s\n", text(r.get()).c_str());
      return 1;
    }
    const redisReply* entries = r->element[0]->element[1];
    for (std::size_t i = 0; i < entries->elements; ++i) {
      const redisReply* e = entries->element[i];
      last = text(e->element[0]);
      // Appended piece by piece: `line += " " + text(...)` makes GCC 12 at -O3 report a
      // -Wrestrict false positive inside std::string's operator+ (and makes a temporary per field).
      std::string line = std::to_string(now);
      line += ' ';
      line += last;
      const redisReply* fields = e->element[1];
      for (std::size_t f = 0; f < fields->elements; ++f) {
        line += ' ';
        line += text(fields->element[f]);
      }
      std::printf("%s\n", line.c_str());
    }
    std::fflush(stdout);
  }
}
