#include "galaxy/cli/api_client.hpp"

#include <sys/un.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <cerrno>
#include <exception>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <system_error>

#include "galaxy/common/build_info.hpp"
#include "galaxy/common/duration.hpp"

namespace galaxy::cli {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxErrorText = 200;

using UnixStream = beast::basic_stream<asio::local::stream_protocol>;
using TcpStream = beast::tcp_stream;

Error url_error(std::string reason) {
  return make_error("--api", std::move(reason));
}

// Which step failed decides what the operator should look at: the address (connect), or the
// daemon that took the connection and then went quiet or away (send, read).
enum class Step : std::uint8_t { connect, send, read };

Error transport_error(const ApiAddress& address, const ApiTimeouts& timeouts, Step step,
                      error_code ec) {
  const std::string& where = address.url;
  if (ec == beast::error::timeout || ec == asio::error::timed_out) {
    return step == Step::connect
               ? make_error(ErrorKind::timeout, where,
                            "no connection within " + format_duration(timeouts.connect))
               : make_error(ErrorKind::timeout, where,
                            "no answer within " + format_duration(timeouts.request) +
                                " (--request-timeout)");
  }
  if (step != Step::connect &&
      (ec == asio::error::eof || ec == http::error::end_of_stream ||
       ec == http::error::partial_message || ec == asio::error::connection_reset ||
       ec == asio::error::broken_pipe)) {
    return make_error(ErrorKind::closed, where,
                      "the connection was closed before a whole answer (" + ec.message() + ")");
  }
  if (ec == http::error::body_limit) {
    return make_error(ErrorKind::protocol, where,
                      "the answer is larger than " +
                          std::to_string(kMaxApiResponseBytes / (std::size_t{1024} * 1024)) +
                          " MiB");
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return make_error(ErrorKind::protocol, where, "not an HTTP answer: " + ec.message());
  }
  const std::string_view verb = step == Step::connect ? "connect"
                                : step == Step::send  ? "send"
                                                      : "read";
  return make_error(ErrorKind::io, where, std::string(verb) + ": " + ec.message());
}

http::request<http::string_body> make_request(const ApiAddress& address, const ApiRequest& request,
                                              const std::string& token) {
  http::request<http::string_body> req{http::string_to_verb(request.method), request.target, 11};
  // Over a unix socket the name is never looked at, but HTTP/1.1 requires the header.
  req.set(http::field::host, address.is_unix() ? std::string("localhost")
                             : address.host.find(':') != std::string::npos
                                 ? "[" + address.host + "]:" + address.port
                                 : address.host + ":" + address.port);
  req.set(http::field::user_agent, "galaxy-health/" + std::string(build_version()));
  req.set(http::field::accept, "application/json");
  if (!token.empty()) {
    req.set(http::field::authorization, "Bearer " + token);
  }
  if (!request.body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = request.body;
  }
  req.keep_alive(false);
  req.prepare_payload();
  return req;
}

asio::awaitable<error_code> connect(UnixStream& s, const ApiAddress& address,
                                    Clock::time_point deadline) {
  s.expires_at(deadline);
  auto [ec] =
      co_await s.async_connect(asio::local::stream_protocol::endpoint(address.socket_path), kTok);
  co_return ec;
}

asio::awaitable<error_code> connect(TcpStream& s, const ApiAddress& address,
                                    Clock::time_point deadline) {
  // The resolver has no deadline of its own: a timer cancels it. Both are shared with the
  // timer's handler, which may run after this frame is gone.
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(s.get_executor());
  auto watchdog = std::make_shared<asio::steady_timer>(s.get_executor(), deadline);
  watchdog->async_wait([resolver](error_code ec) {
    if (!ec) {
      resolver->cancel();
    }
  });
  auto [rec, results] = co_await resolver->async_resolve(address.host, address.port, kTok);
  watchdog->cancel();
  if (rec) {
    co_return rec == asio::error::operation_aborted ? error_code(asio::error::timed_out) : rec;
  }
  s.expires_at(deadline);
  auto [ec, endpoint] = co_await s.async_connect(results, kTok);
  static_cast<void>(endpoint);
  co_return ec;
}

template <class Stream>
asio::awaitable<Result<ApiResponse>> exchange(const ApiAddress& address, const ApiRequest& request,
                                              const std::string& token,
                                              const ApiTimeouts& timeouts) {
  const auto start = Clock::now();
  const auto whole = start + timeouts.request;
  Stream s(co_await asio::this_coro::executor);
  if (auto ec = co_await connect(s, address, std::min(whole, start + timeouts.connect))) {
    co_return transport_error(address, timeouts, Step::connect, ec);
  }
  const auto req = make_request(address, request, token);
  s.expires_at(whole);
  auto [wec, written] = co_await http::async_write(s, req, kTok);
  static_cast<void>(written);
  if (wec) {
    co_return transport_error(address, timeouts, Step::send, wec);
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxApiResponseBytes);
  auto [rec, read] = co_await http::async_read(s, buffer, parser, kTok);
  static_cast<void>(read);
  if (rec) {
    co_return transport_error(address, timeouts, Step::read, rec);
  }
  auto& res = parser.get();
  co_return ApiResponse{res.result_int(), std::move(res.body())};
}

std::string one_line(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, kMaxErrorText)) {
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

std::string string_member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

Result<ApiAddress> parse_api_url(std::string_view url) {
  constexpr std::string_view kUnix = "unix:";
  if (url.starts_with(kUnix)) {
    std::string_view path = url.substr(kUnix.size());
    if (path.starts_with("//")) {
      path.remove_prefix(2);  // unix:///path, as DOCKER_HOST spells it
    }
    if (!path.starts_with('/')) {
      return url_error("unix: needs an absolute socket path (unix:/run/x/api.sock), got '" +
                       std::string(url) + "'");
    }
    // sun_path holds the path and its terminating NUL.
    if (path.size() >= sizeof(sockaddr_un::sun_path)) {
      return url_error("the socket path is longer than a unix socket's " +
                       std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
    }
    return ApiAddress{std::string(path), {}, {}, std::string(url)};
  }
  auto u = boost::urls::parse_uri(url);
  if (!u || u->scheme() != "http") {
    return url_error("must be unix:/path/to/api.sock or http://HOST:PORT, got '" +
                     std::string(url) + "'" +
                     (u && u->scheme() == "https" ? " (no TLS: reach it through a tunnel)" : ""));
  }
  if (u->has_userinfo() || u->has_query() || u->has_fragment() ||
      !(u->encoded_path().empty() || u->encoded_path() == "/")) {
    return url_error("http:// takes only HOST:PORT, got '" + std::string(url) + "'");
  }
  if (u->host_address().empty() || !u->has_port() || u->port().empty()) {
    return url_error("http:// needs HOST:PORT, got '" + std::string(url) + "'");
  }
  return ApiAddress{{}, std::string(u->host_address()), std::string(u->port()), std::string(url)};
}

Result<std::string> parse_token(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\f\v";
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    const auto first = line.find_first_not_of(kSpace);
    if (first == std::string_view::npos || line[first] == '#') {
      continue;
    }
    line = line.substr(0, line.find_last_not_of(kSpace) + 1);
    const auto space = line.find_last_of(kSpace);
    return {boost::system::in_place_value,
            std::string(space == std::string_view::npos ? line : line.substr(space + 1))};
  }
  return make_error("--token-file", "no token in it (a line 'TOKEN' or 'NAME TOKEN')");
}

Result<std::string> read_token_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return make_error("--token-file",
                      path + ": cannot open: " + std::generic_category().message(errno));
  }
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) {
    return make_error("--token-file", path + ": cannot read");
  }
  auto token = parse_token(text);
  if (!token) {
    return make_error("--token-file", path + ": " + token.error().reason);
  }
  return token;
}

Result<ApiResponse> send_request(const ApiAddress& address, const ApiRequest& request,
                                 const std::string& token, const ApiTimeouts& timeouts) {
  asio::io_context ioc;
  std::optional<Result<ApiResponse>> outcome;
  auto work = address.is_unix() ? exchange<UnixStream>(address, request, token, timeouts)
                                : exchange<TcpStream>(address, request, token, timeouts);
  asio::co_spawn(ioc, std::move(work),
                 [&outcome, &address](const std::exception_ptr& e, Result<ApiResponse> r) {
                   if (!e) {
                     outcome = std::move(r);
                     return;
                   }
                   try {
                     std::rethrow_exception(e);
                   } catch (const boost::system::system_error& se) {
                     outcome = make_error(ErrorKind::io, address.url, se.code().message());
                   } catch (const std::exception& ex) {
                     outcome = make_error(ErrorKind::io, address.url, ex.what());
                   }
                 });
  ioc.run();
  if (!outcome) {
    return make_error(ErrorKind::io, address.url, "the request did not complete");
  }
  return std::move(*outcome);
}

ApiError parse_api_error(unsigned status, std::string_view body) {
  ApiError e{status, {}, {}, {}};
  error_code ec;
  const json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const auto* err = v.as_object().if_contains("error"); err != nullptr && err->is_object()) {
      e.code = string_member(err->as_object(), "code");
      e.message = string_member(err->as_object(), "message");
      e.field = string_member(err->as_object(), "field");
    }
  }
  if (e.code.empty()) {
    e.code = "http_" + std::to_string(status);
    if (e.message.empty()) {
      e.message = one_line(body);
    }
  }
  if (e.message.empty()) {
    e.message = std::string(http::obsolete_reason(static_cast<http::status>(status)));
  }
  return e;
}

}  // namespace galaxy::cli
