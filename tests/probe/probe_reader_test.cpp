#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "galaxy/probe/response_reader.hpp"
#include "galaxy/probe/target.hpp"

namespace galaxy::probe {
namespace {

using State = ResponseReader::State;

constexpr std::size_t kHead = 8192;
constexpr std::size_t kBody = 4096;

struct Fixture {
  std::vector<char> buffer = std::vector<char>(kHead + 1024);
  ResponseReader reader{std::span<char>(buffer), kHead, kBody};

  // Feeds `bytes` in pieces of at most `piece` bytes; stops when the reader stops asking.
  State feed(std::string_view bytes, std::size_t piece = 1 << 20) {
    State state = reader.state();
    while (!bytes.empty() && state == State::need_more) {
      const auto space = reader.read_space();
      const std::size_t n = std::min({piece, space.size(), bytes.size()});
      std::memcpy(space.data(), bytes.data(), n);
      bytes.remove_prefix(n);
      state = reader.commit(n);
    }
    return state;
  }
};

TEST(ResponseReader, CompleteResponseInOnePiece) {
  Fixture f;
  EXPECT_EQ(f.feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), State::complete);
  EXPECT_EQ(f.reader.status(), 200);
  EXPECT_TRUE(f.reader.keep_alive());
  EXPECT_EQ(f.reader.error(), "");
}

TEST(ResponseReader, OneByteAtATimeGivesTheSameResult) {
  Fixture f;
  EXPECT_EQ(f.feed("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close"
                   "\r\n\r\ndown",
                   1),
            State::complete);
  EXPECT_EQ(f.reader.status(), 503);
  EXPECT_FALSE(f.reader.keep_alive());
}

TEST(ResponseReader, RedirectIsJustAStatus) {
  Fixture f;
  EXPECT_EQ(f.feed("HTTP/1.1 302 Found\r\nLocation: http://example.invalid/\r\nContent-Length: "
                   "0\r\n\r\n"),
            State::complete);
  EXPECT_EQ(f.reader.status(), 302);
}

// One byte at a time: Beast 1.81 asserted on a final chunk arriving so (found by the fuzz target).
TEST(ResponseReader, ChunkedBodyInAnyPieces) {
  for (const std::size_t piece : {1, 3, 1000}) {
    Fixture f;
    EXPECT_EQ(f.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"
                     "X-Trailer: 1\r\n\r\n",
                     piece),
              State::complete)
        << piece;
    EXPECT_EQ(f.reader.status(), 200);
    EXPECT_TRUE(f.reader.keep_alive());
  }
}

TEST(ResponseReader, BodyUntilEofCompletesAtEofAndIsNotReusable) {
  Fixture f;
  EXPECT_EQ(f.feed("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello"), State::need_more);
  EXPECT_TRUE(f.reader.head_done());
  EXPECT_EQ(f.reader.commit_eof(), State::complete);
  EXPECT_EQ(f.reader.status(), 200);
  EXPECT_FALSE(f.reader.keep_alive());
}

TEST(ResponseReader, InterimResponsesAreSkipped) {
  Fixture f;
  EXPECT_EQ(f.feed("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                   "HTTP/1.1 100 Continue\r\n\r\n"
                   "HTTP/1.1 204 No Content\r\n\r\n",
                   7),
            State::complete);
  EXPECT_EQ(f.reader.status(), 204);
}

TEST(ResponseReader, EndlessInterimResponsesHitTheHeadLimit) {
  Fixture f;
  std::string many;
  while (many.size() < 3 * kHead) {
    many += "HTTP/1.1 103 Early Hints\r\n\r\n";
  }
  EXPECT_EQ(f.feed(many, 100), State::failed);
  EXPECT_EQ(f.reader.error(), "response head over 8192 bytes");
  EXPECT_LE(f.reader.bytes_received(), kHead + f.buffer.size());
}

TEST(ResponseReader, HugeHeadFailsWithinTheLimit) {
  Fixture f;
  const std::string head = "HTTP/1.1 200 OK\r\nX-Filler: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_EQ(f.feed(head, 1000), State::failed);
  EXPECT_EQ(f.reader.error(), "response head over 8192 bytes");
  EXPECT_EQ(f.reader.status(), 0);
  EXPECT_LE(f.reader.bytes_received(), f.buffer.size());
}

TEST(ResponseReader, EndlessBodyIsTruncatedAfterTheBodyLimit) {
  Fixture f;
  EXPECT_EQ(f.feed("HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n"), State::need_more);
  const std::string chunk(1500, 'x');
  State state = State::need_more;
  std::size_t fed = 0;
  while (state == State::need_more && fed < 10'000'000) {
    state = f.feed(chunk);
    fed += chunk.size();
  }
  EXPECT_EQ(state, State::truncated);
  EXPECT_EQ(f.reader.status(), 200);
  EXPECT_LE(f.reader.bytes_received(), f.buffer.size() + kBody);
  EXPECT_TRUE(f.reader.read_space().empty());
}

TEST(ResponseReader, GarbageIsMalformed) {
  Fixture f;
  EXPECT_EQ(f.feed("hello world\r\n\r\n"), State::failed);
  EXPECT_TRUE(f.reader.error().starts_with("malformed HTTP response")) << f.reader.error();
  EXPECT_EQ(f.reader.status(), 0);
}

TEST(ResponseReader, TlsRecordIsMalformed) {
  Fixture f;
  const char alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32};
  EXPECT_EQ(f.feed(std::string_view(alert, sizeof alert)), State::failed);
  EXPECT_TRUE(f.reader.error().starts_with("malformed HTTP response")) << f.reader.error();
}

TEST(ResponseReader, StatusBelowOneHundredIsMalformed) {
  Fixture f;
  EXPECT_EQ(f.feed("HTTP/1.1 000 Zero\r\n\r\n"), State::failed);
  EXPECT_TRUE(f.reader.error().starts_with("malformed HTTP response")) << f.reader.error();
}

TEST(ResponseReader, EofBeforeAnyByte) {
  Fixture f;
  EXPECT_EQ(f.reader.commit_eof(), State::failed);
  EXPECT_EQ(f.reader.error(), "connection closed before response");
}

TEST(ResponseReader, EofDuringTheHead) {
  Fixture f;
  EXPECT_EQ(f.feed("HTTP/1.1 200 OK\r\nContent-"), State::need_more);
  EXPECT_EQ(f.reader.commit_eof(), State::failed);
  EXPECT_EQ(f.reader.error(), "connection closed during response head");
}

TEST(ResponseReader, EofDuringTheBodyKeepsTheStatus) {
  Fixture f;
  EXPECT_EQ(f.feed("HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\nabc"), State::need_more);
  EXPECT_EQ(f.reader.commit_eof(), State::truncated);
  EXPECT_EQ(f.reader.status(), 500);
  EXPECT_EQ(f.reader.error(), "");
}

TEST(ResponseReader, BytesAfterTheResponseMakeTheConnectionUnusable) {
  Fixture f;
  EXPECT_EQ(f.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n"),
            State::complete);
  EXPECT_FALSE(f.reader.keep_alive());
}

TEST(ProbeTarget, BuildsTheRequest) {
  const auto t = ProbeTarget::make("172.31.250.7", 8080, "/healthz?deep=1", ProbeSettings{});
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ(t->request(),
            "GET /healthz?deep=1 HTTP/1.1\r\nHost: 172.31.250.7:8080\r\n"
            "User-Agent: galaxy-runtime-manager/0.1\r\nAccept: */*\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(t->endpoint().port(), 8080);
}

TEST(ProbeTarget, KeepAliveAndIpv6) {
  ProbeSettings s;
  s.keep_alive = true;
  const auto t = ProbeTarget::make("::1", 80, "/", s);
  ASSERT_TRUE(t.has_value());
  EXPECT_NE(t->request().find("Host: [::1]:80\r\n"), std::string::npos);
  EXPECT_NE(t->request().find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(ProbeTarget, RejectsBadInput) {
  const ProbeSettings s;
  EXPECT_EQ(ProbeTarget::make("not-an-ip", 80, "/", s).error().path, "/address");
  EXPECT_EQ(ProbeTarget::make("127.0.0.1", 0, "/", s).error().path, "/port");
  EXPECT_EQ(ProbeTarget::make("127.0.0.1", 80, "healthz", s).error().path, "/path");
  EXPECT_EQ(ProbeTarget::make("127.0.0.1", 80, "/a b", s).error().path, "/path");
  EXPECT_EQ(ProbeTarget::make("127.0.0.1", 80, "/a\r\nX-Injected: 1", s).error().path, "/path");
  EXPECT_EQ(ProbeTarget::make("127.0.0.1", 80, "/#frag", s).error().path, "/path");
  EXPECT_EQ(ProbeTarget::make("127.0.0.1", 80, "/caf\xc3\xa9", s).error().path, "/path");
}

}  // namespace
}  // namespace galaxy::probe
