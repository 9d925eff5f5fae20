// The web server against fake backends, over loopback: what each route answers, the event
// stream's backlog, resume and catch-up, and the token rules. Nothing here waits on a clock: the
// test reads until the frames it expects have come (each read has a deadline against a hang).
#include "galaxy/web/server.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "galaxy/testsupport/http.hpp"
#include "galaxy/web/state.hpp"

namespace galaxy::web {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;
using testsupport::http_request;
using testsupport::HttpExtras;

Frame frame(int n) {
  const std::string id = std::to_string(n) + "-0";
  contract::Event e{"game-" + std::to_string(n % 3), "c" + std::to_string(n), n,
                    contract::ContainerStarted{"img"}};
  return Frame{id, sse_frame(id, contract::encode_entry(e))};
}

// The stream: `history` is what XREVRANGE and XRANGE see; `push` makes entries arrive for XREAD.
class FakeStream final : public StreamSource {
 public:
  explicit FakeStream(std::shared_ptr<std::deque<Frame>> history) : history_(std::move(history)) {}

  Result<std::vector<Frame>> latest(std::size_t n) override {
    const std::lock_guard lock(mutex());
    std::vector<Frame> out;
    const auto skip = history_->size() > n ? history_->size() - n : 0;
    out.assign(history_->begin() + static_cast<std::ptrdiff_t>(skip), history_->end());
    return out;
  }
  Result<std::vector<Frame>> read_after(const std::string& after, std::size_t count,
                                        std::chrono::milliseconds block) override {
    std::unique_lock lock(mutex());
    cv().wait_for(lock, block, [&] {
      return !history_->empty() && compare_ids(history_->back().id, after) > 0;
    });
    return between(after, "", count);
  }
  Result<std::vector<Frame>> range(const std::string& after, const std::string& before,
                                   std::size_t count) override {
    const std::lock_guard lock(mutex());
    ++ranges;
    return between(after, before, count);
  }

  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::condition_variable& cv() {
    static std::condition_variable c;
    return c;
  }
  inline static int ranges = 0;

 private:
  std::vector<Frame> between(const std::string& after, const std::string& before,
                             std::size_t count) const {
    std::vector<Frame> out;
    for (const auto& f : *history_) {
      if (compare_ids(f.id, after) > 0 && (before.empty() || compare_ids(f.id, before) < 0) &&
          out.size() < count) {
        out.push_back(f);
      }
    }
    return out;
  }
  std::shared_ptr<std::deque<Frame>> history_;
};

class FakeSnapshots final : public SnapshotSource {
 public:
  Result<boost::json::array> games() override {
    ++queries;
    if (fail) {
      return make_error(ErrorKind::io, "postgres", "connection to server failed: password s3cret");
    }
    return boost::json::array{boost::json::object{{"game_id", "g1"}, {"state", "healthy"}}};
  }
  Result<boost::json::array> hosts() override { return boost::json::array{}; }
  std::atomic<int> queries{0};
  std::atomic<bool> fail{false};
};

// Reads an event stream off a raw socket until `until` says it has what it wants.
class SseReader {
 public:
  SseReader(std::uint16_t port, const std::string& target,
            const std::vector<std::string>& headers = {}) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    const timeval tv{10, 0};  // a hung server fails the test instead of hanging it
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& h : headers) {
      req += h + "\r\n";
    }
    req += "\r\n";
    asio::write(socket_, asio::buffer(req));
  }
  // Everything received, once `done(text)` holds or the connection ends.
  std::string read_until(const std::function<bool(const std::string&)>& done) {
    std::array<char, 4096> buf{};
    while (!done(text_)) {
      boost::system::error_code ec;
      const auto n = socket_.read_some(asio::buffer(buf), ec);
      if (ec) {
        break;
      }
      text_.append(buf.data(), n);
    }
    return text_;
  }
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (std::size_t at = text_.find("\nid: "); at != std::string::npos;
         at = text_.find("\nid: ", at + 1)) {
      out.push_back(text_.substr(at + 5, text_.find('\n', at + 5) - at - 5));
    }
    return out;
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_{io_};
  std::string text_;
};

std::function<bool(const std::string&)> has(const std::string& needle) {
  return [needle](const std::string& t) { return t.find(needle) != std::string::npos; };
}

class WebServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    history_ = std::make_shared<std::deque<Frame>>();
    for (int i = 1; i <= 20; ++i) {
      history_->push_back(frame(i));
    }
  }
  void TearDown() override { stop(); }

  Result<std::unique_ptr<WebServer>> open(WebSettings s) {
    auto snaps = std::make_unique<FakeSnapshots>();
    snapshots_ = snaps.get();
    return WebServer::open(io_.get_executor(), std::move(s), std::make_unique<FakeStream>(history_),
                           std::make_unique<FakeStream>(history_), std::move(snaps));
  }
  void start(WebSettings s = settings()) {
    auto server = open(std::move(s));
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(*server);
    port_ = server_->local_endpoint().port();
    asio::co_spawn(io_, server_->run(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  void stop() {
    if (thread_.joinable()) {
      asio::post(io_, [this] { server_->stop(); });
      thread_.join();
    }
  }
  static WebSettings settings() {
    WebSettings s;
    s.listen = "127.0.0.1:0";
    s.hub.ring = 10;
    s.block = 50ms;
    s.secrets = {"s3cret"};
    return s;
  }
  void publish(int n) {
    {
      const std::lock_guard lock(FakeStream::mutex());
      history_->push_back(frame(n));
    }
    FakeStream::cv().notify_all();
  }
  testsupport::HttpResponse get(const std::string& target, const HttpExtras& extras = {}) {
    auto r = http_request("127.0.0.1", port_, http::verb::get, target, 10s, extras);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : testsupport::HttpResponse{};
  }
  std::string token_file(const std::string& text) {
    const auto path =
        std::filesystem::temp_directory_path() / ("web-tokens-" + std::to_string(::getpid()));
    std::ofstream(path) << text;
    ::chmod(path.c_str(), 0600);
    return path.string();
  }

  asio::io_context io_;
  std::shared_ptr<std::deque<Frame>> history_;
  FakeSnapshots* snapshots_ = nullptr;
  std::unique_ptr<WebServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(WebServerTest, ThePageIsServedWithAStrictPolicyAndUnknownPathsAre404) {
  start();
  const auto page = get("/");
  EXPECT_EQ(page.status, 200U);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(get("/app.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(get("/app.css").content_type, "text/css; charset=utf-8");
  const auto missing = get("/etc/passwd");
  EXPECT_EQ(missing.status, 404U);
  EXPECT_EQ(boost::json::parse(missing.body).at("error").at("code"), "not_found");
  auto post = http_request("127.0.0.1", port_, http::verb::post, "/api/v1/games", 10s);
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405U);
}

TEST_F(WebServerTest, GamesComeFromTheSnapshotsAndManyPagesShareOneQuery) {
  auto s = settings();
  s.games_cache = 1h;
  start(s);
  const auto games = get("/api/v1/games");
  ASSERT_EQ(games.status, 200U);
  const auto o = boost::json::parse(games.body).as_object();
  EXPECT_EQ(o.at("games").at(0).at("game_id"), "g1");
  EXPECT_EQ(o.at("stream"), "runtime:health_events");
  get("/api/v1/games");
  EXPECT_EQ(snapshots_->queries.load(), 1);
}

TEST_F(WebServerTest, ADatabaseErrorIs503WithoutThePassword) {
  start();
  snapshots_->fail = true;
  const auto games = get("/api/v1/games");
  EXPECT_EQ(games.status, 503U);
  EXPECT_EQ(games.body.find("s3cret"), std::string::npos) << games.body;
  EXPECT_NE(games.body.find("***"), std::string::npos) << games.body;
}

TEST_F(WebServerTest, AFreshPageGetsItsBacklogThenLiveEntries) {
  start();
  SseReader r(port_, "/api/v1/events?backlog=3");
  r.read_until(has("id: 20-0\n"));
  EXPECT_EQ(r.ids(), (std::vector<std::string>{"18-0", "19-0", "20-0"}));
  publish(21);
  const auto text = r.read_until(has("id: 21-0\n"));
  EXPECT_NE(text.find("text/event-stream"), std::string::npos);
  EXPECT_NE(text.find("retry: 1000"), std::string::npos);
  EXPECT_EQ(r.ids().back(), "21-0");
}

TEST_F(WebServerTest, AResumeGetsEveryEntryAfterItOnceEvenFromBeforeTheRing) {
  start();
  FakeStream::ranges = 0;
  // The ring holds 11..20; 3..10 come from the stream itself.
  SseReader r(port_, "/api/v1/events", {"Last-Event-ID: 2-0"});
  r.read_until(has("id: 20-0\n"));
  publish(21);
  r.read_until(has("id: 21-0\n"));
  std::vector<std::string> want;
  for (int i = 3; i <= 21; ++i) {
    want.push_back(std::to_string(i) + "-0");
  }
  EXPECT_EQ(r.ids(), want);
  EXPECT_GE(FakeStream::ranges, 1);

  SseReader q(port_, "/api/v1/events?last_event_id=19-0&backlog=5");
  q.read_until(has("id: 21-0\n"));
  EXPECT_EQ(q.ids(), (std::vector<std::string>{"20-0", "21-0"})) << "no backlog on a resume";
}

TEST_F(WebServerTest, ABadResumePointOrBacklogIsA400NamingIt) {
  start();
  const auto bad_id =
      get("/api/v1/events", {.body = {}, .headers = {{"Last-Event-ID", "yesterday"}}});
  EXPECT_EQ(bad_id.status, 400U);
  EXPECT_NE(bad_id.body.find("Last-Event-ID"), std::string::npos);
  const auto bad_backlog = get("/api/v1/events?backlog=9999");
  EXPECT_EQ(bad_backlog.status, 400U);
  EXPECT_NE(bad_backlog.body.find("backlog"), std::string::npos);
}

TEST_F(WebServerTest, WithATokenFileEveryRequestNeedsTheTokenOrItsCookie) {
  auto s = settings();
  s.token_file = token_file("ops 0123456789abcdef0123\n");
  start(s);
  EXPECT_EQ(get("/").status, 401U);
  EXPECT_EQ(get("/api/v1/games").status, 401U);
  EXPECT_EQ(get("/api/v1/events").status, 401U);
  EXPECT_EQ(get("/api/v1/games",
                {.body = {}, .headers = {{"Authorization", "Bearer wrong-token-0000000"}}})
                .status,
            401U);
  EXPECT_EQ(get("/api/v1/games",
                {.body = {}, .headers = {{"Authorization", "Bearer 0123456789abcdef0123"}}})
                .status,
            200U);
  EXPECT_EQ(
      get("/", {.body = {}, .headers = {{"Cookie", "a=b; galaxy_web_token=0123456789abcdef0123"}}})
          .status,
      200U);
  const auto link = get("/?token=0123456789abcdef0123&state=exited");
  EXPECT_EQ(link.status, 303U);
  EXPECT_EQ(get("/?token=not-the-token-at-all").status, 401U);
}

TEST_F(WebServerTest, AnAddressBeyondLoopbackNeedsATokenFile) {
  auto s = settings();
  s.listen = "0.0.0.0:0";
  auto server = open(s);
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().path, "--listen");
  EXPECT_NE(server.error().reason.find("--token-file"), std::string::npos);
  s.listen = "localhost:80";
  auto named = open(s);
  ASSERT_FALSE(named);
  EXPECT_EQ(named.error().path, "--listen");
}

TEST_F(WebServerTest, StopEndsOpenEventStreams) {
  start();
  SseReader r(port_, "/api/v1/events?backlog=1");
  r.read_until(has("id: 20-0\n"));
  stop();  // joins the loop: run() returned with the stream open
  const auto text = r.read_until([](const std::string&) { return false; });
  EXPECT_NE(text.find("id: 20-0"), std::string::npos);
}

}  // namespace
}  // namespace galaxy::web
