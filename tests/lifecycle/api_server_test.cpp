// The lifecycle API listener over real loopback and unix sockets in a temporary directory. The
// server and the test's client coroutines share one io_context run by the test until what it
// waits for has happened; the real-time limit only stops a hang, nothing asserts how long
// anything took.
#include "galaxy/lifecycle/api_server.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>

#include "galaxy/common/listen_address.hpp"

namespace galaxy::lifecycle {
namespace {

using Strings = std::vector<std::string>;

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using asio::awaitable;
using asio::ip::tcp;
using boost::system::error_code;
using local = asio::local::stream_protocol;

constexpr auto kGenerous = std::chrono::seconds(20);
constexpr std::string_view kOpsToken = "ops-0123456789abcdef";
constexpr std::string_view kGmToken = "gm-fedcba9876543210";

auto redirect(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

struct Reply {
  error_code ec;
  http::response<http::string_body> msg;
  unsigned status() const { return msg.result_int(); }
  std::string header(http::field f) const { return std::string(msg[f]); }
};

// An HTTP/1.1 client on one connection, so a test sees what the server does with keep-alive and
// with connections it closes.
template <class Protocol>
class Client {
 public:
  explicit Client(asio::io_context& ioc) : stream_(ioc) {}

  awaitable<error_code> connect(typename Protocol::endpoint ep) {
    error_code ec;
    stream_.expires_after(kGenerous);
    co_await stream_.async_connect(ep, redirect(ec));
    co_return ec;
  }

  awaitable<error_code> send_raw(std::string bytes) {
    error_code ec;
    stream_.expires_after(kGenerous);
    co_await asio::async_write(stream_, asio::buffer(bytes), redirect(ec));
    co_return ec;
  }

  awaitable<Reply> receive() {
    Reply r;
    http::response_parser<http::string_body> parser;
    stream_.expires_after(kGenerous);
    co_await http::async_read(stream_, buffer_, parser, redirect(r.ec));
    if (!r.ec) {
      r.msg = parser.release();
    }
    co_return r;
  }

  awaitable<Reply> request(http::verb method, std::string target, std::string_view token = {},
                           std::string body = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "test");
    if (!token.empty()) {
      req.set(http::field::authorization, "Bearer " + std::string(token));
    }
    if (!body.empty() || method == http::verb::post) {
      req.body() = std::move(body);
      req.prepare_payload();
    }
    error_code ec;
    stream_.expires_after(kGenerous);
    co_await http::async_write(stream_, req, redirect(ec));
    if (ec) {
      co_return Reply{ec, {}};
    }
    co_return co_await receive();
  }

  // How the server ended the connection: eof (or a reset) once it closed it.
  awaitable<error_code> closed() {
    error_code ec;
    std::array<char, 256> sink{};
    stream_.expires_after(kGenerous);
    while (!ec) {
      co_await stream_.async_read_some(asio::buffer(sink), redirect(ec));
    }
    co_return ec;
  }

 private:
  beast::basic_stream<Protocol> stream_;
  beast::flat_buffer buffer_;
};

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "galaxy-api-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    tokens_ = write_file(
        "tokens", fmt::format("# who may call\n\nops {}\n  gm\t{}  \n", kOpsToken, kGmToken));
  }

  void TearDown() override {
    server_.reset();
    ioc_.restart();
    ioc_.run_for(kGenerous);  // returns once every connection's coroutine has ended
    fs::remove_all(dir_);
  }

  std::string write_file(const std::string& name, const std::string& text, int mode = 0600) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    fs::permissions(path, static_cast<fs::perms>(mode));
    return path;
  }

  ApiSettings tcp_settings() const {
    ApiSettings s;
    s.listen = "127.0.0.1:0";
    s.token_file = tokens_;
    return s;
  }

  ApiSettings unix_settings() const {
    ApiSettings s;
    s.listen = "unix:" + (dir_ / "api.sock").string();
    return s;
  }

  Result<void> start(ApiSettings s) {
    server_ = std::make_unique<ApiServer>(ioc_.get_executor(), std::move(s));
    add_routes(*server_);
    return server_->start();
  }

  void start_ok(ApiSettings s) {
    auto r = start(std::move(s));
    ASSERT_TRUE(r) << r.error().message();
  }

  // Each handler answers with what it was given, so a test sees routing, captures and who.
  void add_routes(ApiServer& server) {
    const auto echo = [](ApiRequest r) -> awaitable<ApiResponse> {
      std::string out = fmt::format("{} {} who={}", http::to_string(r.method), r.target, r.who);
      for (const auto& [k, v] : r.params) {
        out += fmt::format(" {}={}", k, v);
      }
      for (const auto& [k, v] : r.query) {
        out += fmt::format(" ?{}={}", k, v);
      }
      if (!r.body.empty()) {
        out +=
            fmt::format(" body={}", r.body.size() <= 64 ? r.body : std::to_string(r.body.size()));
      }
      co_return ApiResponse{200, out};
    };
    server.add(http::verb::get, "/v1/engines", echo);
    server.add(http::verb::post, "/v1/engines", echo);
    server.add(http::verb::get, "/v1/engines/{game_id}", echo);
    server.add(http::verb::delete_, "/v1/engines/{game_id}", echo);
    server.add(http::verb::post, "/v1/engines/{game_id}/stop", echo);
    server.add(http::verb::get, "/v1/boom", [](ApiRequest) -> awaitable<ApiResponse> {
      throw std::runtime_error("the handler broke");
      co_return ApiResponse{};
    });
    server.add(http::verb::get, "/v1/slow", [this](ApiRequest) -> awaitable<ApiResponse> {
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::hours(1));
      slow_started_ = true;
      try {
        co_await timer.async_wait(asio::use_awaitable);
      } catch (const boost::system::system_error& e) {
        slow_cancelled_ = e.code() == asio::error::operation_aborted;
        throw;
      }
      co_return ApiResponse{200, "{}"};
    });
  }

  tcp::endpoint tcp_endpoint() const { return *parse_listen_address(server_->local_address()); }

  local::endpoint unix_endpoint() const { return {server_->local_address().substr(5)}; }

  void run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kGenerous;
    while (!done() && !ioc_.stopped() && ioc_.run_one_until(deadline) > 0) {
    }
    ASSERT_TRUE(done()) << "what the test waited for did not happen";
  }

  // Runs the loop until `op` (a client step) is done, and returns its result.
  template <class T>
  T run(awaitable<T> op) {
    std::optional<T> out;
    std::exception_ptr failure;
    asio::co_spawn(ioc_, std::move(op), [&](std::exception_ptr e, T v) {
      failure = std::move(e);
      out = std::move(v);
    });
    run_until([&] { return out.has_value(); });
    if (failure) {
      std::rethrow_exception(failure);
    }
    return out ? std::move(*out) : T{};
  }

  Reply get(const std::string& target, std::string_view token = kOpsToken,
            http::verb method = http::verb::get, std::string body = {}) {
    Client<tcp> c(ioc_);
    EXPECT_FALSE(run(c.connect(tcp_endpoint())));
    return run(c.request(method, target, token, std::move(body)));
  }

  // The error body's code, checked to be the API's error shape.
  static std::string code_of(const Reply& r) {
    EXPECT_EQ(r.header(http::field::content_type), "application/json");
    const auto at = r.msg.body().find(R"({"error":{"code":")");
    EXPECT_EQ(at, 0U) << r.msg.body();
    if (at != 0) {
      return "";
    }
    const std::size_t start = 18;
    return r.msg.body().substr(start, r.msg.body().find('"', start) - start);
  }

  asio::io_context ioc_{1};
  fs::path dir_;
  std::string tokens_;
  std::unique_ptr<ApiServer> server_;
  bool slow_started_ = false;
  bool slow_cancelled_ = false;
};

TEST_F(ApiServerTest, RoutesByMethodAndPatternWithCapturesAndQuery) {
  start_ok(tcp_settings());
  auto r = get("/v1/engines/g%3A1?x=1&flag");
  EXPECT_EQ(r.status(), 200U);
  EXPECT_EQ(r.header(http::field::content_type), "application/json");
  EXPECT_EQ(r.msg.body(), "GET /v1/engines/g:1 who=ops game_id=g:1 ?flag= ?x=1");
  r = get("/v1/engines/a%2Fb/stop", kOpsToken, http::verb::post, R"({"timeout_s":3})");
  EXPECT_EQ(r.msg.body(), R"(POST /v1/engines/a/b/stop who=ops game_id=a/b body={"timeout_s":3})");
  EXPECT_EQ(get("/v1/engines").msg.body(), "GET /v1/engines who=ops");
  EXPECT_EQ(get("/v1/engines/x", kOpsToken, http::verb::delete_).msg.body(),
            "DELETE /v1/engines/x who=ops game_id=x");
}

TEST_F(ApiServerTest, ALaterHandlerForTheSameRouteReplacesTheFirst) {
  start_ok(tcp_settings());
  server_->add(http::verb::get, "/v1/engines", [](ApiRequest) -> awaitable<ApiResponse> {
    co_return ApiResponse{201, "[]"};
  });
  const auto r = get("/v1/engines");
  EXPECT_EQ(r.status(), 201U);
  EXPECT_EQ(r.msg.body(), "[]");
}

TEST_F(ApiServerTest, UnknownPathsAre404) {
  start_ok(tcp_settings());
  for (const auto& target : Strings{"/", "/v1", "/v1/nope", "/v1/engines/", "/v1/engines/a/b/c",
                                    "/v1/engines//stop", "/V1/engines"}) {
    const auto r = get(target);
    EXPECT_EQ(r.status(), 404U) << target;
    EXPECT_EQ(code_of(r), "not_found") << target;
  }
}

TEST_F(ApiServerTest, AKnownPathWithAnotherMethodIs405WithAllow) {
  start_ok(tcp_settings());
  auto r = get("/v1/engines/x", kOpsToken, http::verb::put);
  EXPECT_EQ(r.status(), 405U);
  EXPECT_EQ(code_of(r), "method_not_allowed");
  EXPECT_EQ(r.header(http::field::allow), "DELETE, GET");
  r = get("/v1/engines", kOpsToken, http::verb::patch);
  EXPECT_EQ(r.status(), 405U);
  EXPECT_EQ(r.header(http::field::allow), "GET, POST");
  EXPECT_EQ(get("/v1/engines/x/stop").header(http::field::allow), "POST");
}

TEST_F(ApiServerTest, EveryRequestNeedsABearerTokenOfTheFile) {
  start_ok(tcp_settings());
  const std::string ops(kOpsToken);
  for (const auto& bad :
       Strings{std::string(), std::string("wrong-token-wrong-token"), ops.substr(0, ops.size() - 1),
               ops + "x", std::string("ops-0123456789abcdeF"), std::string(kGmToken.substr(1))}) {
    const auto r = get("/v1/engines", bad);
    EXPECT_EQ(r.status(), 401U) << bad;
    EXPECT_EQ(code_of(r), "unauthorized");
    EXPECT_EQ(r.header(http::field::www_authenticate), "Bearer");
  }
  // Not Bearer: the same 401.
  Client<tcp> c(ioc_);
  ASSERT_FALSE(run(c.connect(tcp_endpoint())));
  ASSERT_FALSE(run(c.send_raw(
      fmt::format("GET /v1/engines HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {}\r\n\r\n", ops))));
  EXPECT_EQ(run(c.receive()).status(), 401U);
  // Unknown paths too: a caller without a token learns nothing about the routes.
  EXPECT_EQ(get("/v1/nope", "").status(), 401U);
  // The scheme is case-insensitive; who is the name of the token that matched.
  ASSERT_FALSE(run(c.send_raw(fmt::format(
      "GET /v1/engines HTTP/1.1\r\nHost: t\r\nAuthorization: bearer {}\r\n\r\n", ops))));
  EXPECT_EQ(run(c.receive()).msg.body(), "GET /v1/engines who=ops");
  EXPECT_EQ(get("/v1/engines", kGmToken).msg.body(), "GET /v1/engines who=gm");
}

TEST_F(ApiServerTest, ABareTokenIsNamedDefault) {
  auto s = tcp_settings();
  s.token_file = write_file("bare", "0123456789abcdef\n");
  start_ok(s);
  EXPECT_EQ(get("/v1/engines", "0123456789abcdef").msg.body(), "GET /v1/engines who=default");
}

TEST_F(ApiServerTest, ABodyOverTheLimitIs413) {
  auto s = tcp_settings();
  s.max_body = 1024;
  start_ok(s);
  EXPECT_EQ(get("/v1/engines", kOpsToken, http::verb::post, std::string(1024, 'x')).msg.body(),
            "POST /v1/engines who=ops body=1024");
  // Refused from its Content-Length, before a byte of it is sent.
  Client<tcp> c(ioc_);
  ASSERT_FALSE(run(c.connect(tcp_endpoint())));
  ASSERT_FALSE(run(c.send_raw(fmt::format(
      "POST /v1/engines HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Length: "
      "1025\r\n\r\n",
      kOpsToken))));
  auto r = run(c.receive());
  EXPECT_EQ(r.status(), 413U);
  EXPECT_EQ(code_of(r), "body_too_large");
  EXPECT_FALSE(r.msg.keep_alive());
  EXPECT_TRUE(run(c.closed()));
  // The token comes first: without one, a 401 whatever the length.
  Client<tcp> anonymous(ioc_);
  ASSERT_FALSE(run(anonymous.connect(tcp_endpoint())));
  ASSERT_FALSE(
      run(anonymous.send_raw("POST /v1/engines HTTP/1.1\r\nContent-Length: 999999\r\n\r\n")));
  EXPECT_EQ(run(anonymous.receive()).status(), 401U);
  // A chunked body has no length to check: the parser's limit stops it.
  Client<tcp> chunked(ioc_);
  ASSERT_FALSE(run(chunked.connect(tcp_endpoint())));
  ASSERT_FALSE(run(chunked.send_raw(
      fmt::format("POST /v1/engines HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n400\r\n{}\r\n400\r\n{}\r\n0\r\n\r\n",
                  kOpsToken, std::string(1024, 'a'), std::string(1024, 'b')))));
  r = run(chunked.receive());
  EXPECT_EQ(r.status(), 413U) << r.msg.body();
  EXPECT_EQ(code_of(r), "body_too_large");
}

TEST_F(ApiServerTest, ExpectContinueGetsA100BeforeTheBody) {
  start_ok(tcp_settings());
  Client<tcp> c(ioc_);
  ASSERT_FALSE(run(c.connect(tcp_endpoint())));
  ASSERT_FALSE(run(c.send_raw(fmt::format(
      "POST /v1/engines HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Length: 2\r\n"
      "Expect: 100-continue\r\n\r\n",
      kOpsToken))));
  EXPECT_EQ(run(c.receive()).status(), 100U);
  ASSERT_FALSE(run(c.send_raw("{}")));
  EXPECT_EQ(run(c.receive()).msg.body(), "POST /v1/engines who=ops body={}");
}

TEST_F(ApiServerTest, AMalformedRequestIs400) {
  start_ok(tcp_settings());
  const std::string auth = fmt::format("Authorization: Bearer {}\r\n", kOpsToken);
  for (const auto& raw :
       Strings{std::string("GARBAGE\r\n\r\n"),
               "GET /v1/engines HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
               "GET /v1/engines HTTP/1.1\r\nContent-Length: x\r\n" + auth + "\r\n",
               "GET /v1/engines HTTP/1.1\r\nX: " + std::string(std::size_t{17} * 1024, 'h') +
                   "\r\n\r\n",
               "GET v1/engines HTTP/1.1\r\nHost: t\r\n" + auth + "\r\n",
               "GET /v1/engines/%zz HTTP/1.1\r\nHost: t\r\n" + auth + "\r\n"}) {
    Client<tcp> c(ioc_);
    ASSERT_FALSE(run(c.connect(tcp_endpoint())));
    ASSERT_FALSE(run(c.send_raw(raw)));
    const auto r = run(c.receive());
    ASSERT_FALSE(r.ec) << raw.substr(0, 60) << ": " << r.ec.message();
    EXPECT_EQ(r.status(), 400U) << raw.substr(0, 60);
    EXPECT_EQ(code_of(r), "bad_request");
  }
}

TEST_F(ApiServerTest, AThrowingHandlerIs500AndTheServerGoesOn) {
  start_ok(tcp_settings());
  Client<tcp> c(ioc_);
  ASSERT_FALSE(run(c.connect(tcp_endpoint())));
  auto r = run(c.request(http::verb::get, "/v1/boom", kOpsToken));
  EXPECT_EQ(r.status(), 500U);
  EXPECT_EQ(code_of(r), "internal");
  EXPECT_EQ(r.msg.body().find("broke"), std::string::npos) << "the exception text is for the log";
  EXPECT_EQ(run(c.request(http::verb::get, "/v1/engines", kOpsToken)).status(), 200U);
  EXPECT_EQ(get("/v1/engines").status(), 200U);
}

TEST_F(ApiServerTest, KeepAliveServesRequestsInTurnOnOneConnection) {
  start_ok(tcp_settings());
  Client<tcp> c(ioc_);
  ASSERT_FALSE(run(c.connect(tcp_endpoint())));
  auto first = run(c.request(http::verb::get, "/v1/engines/a", kOpsToken));
  EXPECT_TRUE(first.msg.keep_alive());
  EXPECT_EQ(first.msg.body(), "GET /v1/engines/a who=ops game_id=a");
  EXPECT_EQ(run(c.request(http::verb::get, "/v1/engines/b", kGmToken)).msg.body(),
            "GET /v1/engines/b who=gm game_id=b");
  // Two requests in one write (pipelined) are answered in order.
  const std::string auth = fmt::format("Authorization: Bearer {}\r\n", kOpsToken);
  ASSERT_FALSE(run(c.send_raw("GET /v1/engines/c HTTP/1.1\r\n" + auth + "\r\nGET /v1/engines/d " +
                              "HTTP/1.1\r\nConnection: close\r\n" + auth + "\r\n")));
  EXPECT_EQ(run(c.receive()).msg.body(), "GET /v1/engines/c who=ops game_id=c");
  const auto last = run(c.receive());
  EXPECT_EQ(last.msg.body(), "GET /v1/engines/d who=ops game_id=d");
  EXPECT_FALSE(last.msg.keep_alive());
  EXPECT_TRUE(run(c.closed()));
}

TEST_F(ApiServerTest, AnIncompleteRequestIsCutOffAtTheReadTimeout) {
  auto s = tcp_settings();
  s.read_timeout = 50ms;
  start_ok(s);
  Client<tcp> c(ioc_);
  ASSERT_FALSE(run(c.connect(tcp_endpoint())));
  ASSERT_FALSE(run(c.send_raw("GET /v1/engines HTTP/1.1\r\nHost: t\r\n")));
  EXPECT_TRUE(run(c.closed()));
}

TEST_F(ApiServerTest, ConnectionsBeyondTheLimitAreClosed) {
  auto s = tcp_settings();
  s.max_connections = 1;
  start_ok(s);
  Client<tcp> first(ioc_);
  ASSERT_FALSE(run(first.connect(tcp_endpoint())));
  EXPECT_EQ(run(first.request(http::verb::get, "/v1/engines", kOpsToken)).status(), 200U);
  Client<tcp> second(ioc_);
  ASSERT_FALSE(run(second.connect(tcp_endpoint())));
  EXPECT_TRUE(run(second.closed()));
  EXPECT_EQ(run(first.request(http::verb::get, "/v1/engines", kOpsToken)).status(), 200U);
}

TEST_F(ApiServerTest, StopClosesOpenConnectionsAndCancelsHandlers) {
  start_ok(tcp_settings());
  Client<tcp> idle(ioc_);
  ASSERT_FALSE(run(idle.connect(tcp_endpoint())));
  EXPECT_EQ(run(idle.request(http::verb::get, "/v1/engines", kOpsToken)).status(), 200U);
  Client<tcp> busy(ioc_);
  ASSERT_FALSE(run(busy.connect(tcp_endpoint())));
  std::optional<Reply> slow;
  asio::co_spawn(ioc_, busy.request(http::verb::get, "/v1/slow", kOpsToken),
                 [&](const std::exception_ptr&, Reply r) { slow = std::move(r); });
  run_until([&] { return slow_started_; });

  const auto endpoint = tcp_endpoint();
  server_->stop();
  run_until([&] { return slow.has_value() && slow_cancelled_; });
  EXPECT_TRUE(slow->ec) << "the cancelled request gets no answer";
  EXPECT_TRUE(slow_cancelled_) << "the handler saw operation_aborted";
  EXPECT_TRUE(run(idle.closed()));
  Client<tcp> late(ioc_);
  EXPECT_TRUE(run(late.connect(endpoint)));
  server_->stop();  // idempotent
}

TEST_F(ApiServerTest, AUnixPeerWithoutATokenFileIsItsUid) {
  start_ok(unix_settings());
  const std::string path = (dir_ / "api.sock").string();
  EXPECT_EQ(server_->local_address(), "unix:" + path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660U);
  Client<local> c(ioc_);
  ASSERT_FALSE(run(c.connect(unix_endpoint())));
  const auto r = run(c.request(http::verb::get, "/v1/engines/g"));
  EXPECT_EQ(r.msg.body(), fmt::format("GET /v1/engines/g who=unix:uid={} game_id=g", ::getuid()));
  server_->stop();
  EXPECT_FALSE(fs::exists(path)) << "stop removes the socket it made";
}

TEST_F(ApiServerTest, AUnixSocketWithATokenFileNeedsTheToken) {
  auto s = unix_settings();
  s.token_file = tokens_;
  start_ok(s);
  Client<local> c(ioc_);
  ASSERT_FALSE(run(c.connect(unix_endpoint())));
  EXPECT_EQ(run(c.request(http::verb::get, "/v1/engines")).status(), 401U);
  EXPECT_EQ(run(c.request(http::verb::get, "/v1/engines", kGmToken)).msg.body(),
            "GET /v1/engines who=gm");
}

TEST_F(ApiServerTest, AStaleSocketFileIsReplacedButALiveOneOrAFileIsNot) {
  const std::string path = (dir_ / "api.sock").string();
  {
    // A server that died without removing its socket.
    local::acceptor dead(ioc_, local::endpoint(path));
  }
  ASSERT_TRUE(fs::exists(path));
  start_ok(unix_settings());

  ApiServer second(ioc_.get_executor(), unix_settings());
  auto r = second.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::io);
  EXPECT_NE(r.error().reason.find("already listening"), std::string::npos) << r.error().reason;
  Client<local> c(ioc_);
  ASSERT_FALSE(run(c.connect(unix_endpoint())));
  EXPECT_EQ(run(c.request(http::verb::get, "/v1/engines")).status(), 200U)
      << "the first server still serves";

  auto s = unix_settings();
  s.listen = "unix:" + write_file("plain", "keep me");
  ApiServer third(ioc_.get_executor(), s);
  r = third.start();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().reason.find("not a socket"), std::string::npos) << r.error().reason;
  EXPECT_TRUE(fs::exists(dir_ / "plain"));
}

TEST_F(ApiServerTest, TcpNeedsATokenFileAndLoopbackUnlessAllowed) {
  ApiSettings s;
  s.listen = "127.0.0.1:0";
  auto r = start(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid);
  EXPECT_EQ(r.error().path, "--api-token-file");

  s = tcp_settings();
  s.listen = "0.0.0.0:0";
  r = start(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid);
  EXPECT_EQ(r.error().path, "--api-listen");
  EXPECT_NE(r.error().reason.find("--api-allow-remote"), std::string::npos) << r.error().reason;

  s.allow_remote = true;
  start_ok(s);
  EXPECT_TRUE(server_->local_address().starts_with("0.0.0.0:")) << server_->local_address();

  s = tcp_settings();
  s.listen = "[::1]:0";
  ApiServer v6(ioc_.get_executor(), s);
  if (v6.start()) {  // a host without IPv6 loopback has nothing to check here
    EXPECT_TRUE(v6.local_address().starts_with("[::1]:")) << v6.local_address();
  }
}

TEST_F(ApiServerTest, BadListenAddressesAreNamed) {
  for (const auto& [listen, path] : std::vector<std::pair<std::string, std::string>>{
           {"", "--api-listen/port"},
           {"localhost:80", "--api-listen/host"},
           {"127.0.0.1:x", "--api-listen/port"},
           {"unix:", "--api-listen"},
           {"unix:/" + std::string(200, 's'), "--api-listen"}}) {
    auto s = tcp_settings();
    s.listen = listen;
    auto r = start(s);
    ASSERT_FALSE(r) << listen;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid) << listen;
    EXPECT_EQ(r.error().path, path) << listen;
  }
}

TEST_F(ApiServerTest, TheTokenFileMustBePrivateAndWellFormed) {
  const auto refused = [&](const std::string& file, const std::string& reason_part) {
    auto s = tcp_settings();
    s.token_file = file;
    auto r = start(s);
    ASSERT_FALSE(r) << file;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid);
    EXPECT_EQ(r.error().path, "--api-token-file");
    EXPECT_NE(r.error().reason.find(file), std::string::npos) << r.error().reason;
    EXPECT_NE(r.error().reason.find(reason_part), std::string::npos) << r.error().reason;
    EXPECT_EQ(r.error().reason.find(kOpsToken), std::string::npos) << "no secret in errors";
  };
  refused((dir_ / "missing").string(), "cannot open");
  const std::string text = fmt::format("ops {}\n", kOpsToken);
  refused(write_file("group", text, 0640), "group or others");
  refused(write_file("others", text, 0604), "group or others");
  refused(write_file("groupw", text, 0620), "group or others");
  refused(dir_.string(), "not a regular file");
  refused(write_file("empty", "# nothing\n\n"), "no token");
  refused(write_file("short", "ops 0123456789abcde\n"), "short:1: the token is shorter");
  refused(write_file("three", fmt::format("\nops {} extra\n", kOpsToken)), "three:2: expected");
  refused(write_file("dup", fmt::format("a {0}\nb {0}\n", kOpsToken)), "dup:2: the same token");
  refused(write_file("dupname", fmt::format("a {}\na {}\n", kOpsToken, kGmToken)),
          "dupname:2: a second token named a");
  refused(write_file("spoof", fmt::format("unix:uid=0 {}\n", kOpsToken)), "spoof:1: a name");
}

}  // namespace
}  // namespace galaxy::lifecycle
