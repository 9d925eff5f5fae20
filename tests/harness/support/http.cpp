#include "galaxy/testsupport/http.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdlib>
#include <stdexcept>

namespace galaxy::testsupport {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

// One request on an already created stream; the stream's timer bounds every step, so the whole
// exchange ends by the deadline with beast::error::timeout at the latest.
template <typename Protocol>
asio::awaitable<void> exchange(beast::basic_stream<Protocol>& stream,
                               typename Protocol::endpoint endpoint, http::verb method,
                               std::string target, std::string host, HttpExtras extras,
                               HttpResponse& out, error_code& ec) {
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  co_await stream.async_connect(endpoint, token);
  if (ec) {
    co_return;
  }
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, host);
  req.set(http::field::connection, "close");
  if (!extras.body.empty()) {
    req.set(http::field::content_type, "application/json");
  }
  for (const auto& [name, value] : extras.headers) {
    req.set(name, value);
  }
  req.body() = std::move(extras.body);
  req.prepare_payload();
  co_await http::async_write(stream, req, token);
  if (ec) {
    co_return;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  // A response to HEAD states the length of a body it does not send.
  parser.skip(method == http::verb::head);
  co_await http::async_read(stream, buffer, parser, token);
  if (ec) {
    co_return;
  }
  auto res = parser.release();
  out.status = res.result_int();
  out.content_type = std::string(res[http::field::content_type]);
  out.body = std::move(res.body());
}

template <typename Protocol>
boost::system::result<HttpResponse> request(typename Protocol::endpoint endpoint, http::verb method,
                                            std::string_view target, std::string_view host,
                                            std::chrono::milliseconds deadline,
                                            const HttpExtras& extras) {
  asio::io_context io;
  beast::basic_stream<Protocol> stream(io);
  stream.expires_after(deadline);
  HttpResponse out;
  error_code ec;
  asio::co_spawn(
      io,
      exchange(stream, endpoint, method, std::string(target), std::string(host), extras, out, ec),
      asio::detached);
  io.run();
  if (ec) {
    return ec;
  }
  return out;
}

}  // namespace

boost::system::result<HttpResponse> http_request(std::string_view host, std::uint16_t port,
                                                 http::verb method, std::string_view target,
                                                 std::chrono::milliseconds deadline,
                                                 const HttpExtras& extras) {
  error_code ec;
  const auto address = asio::ip::make_address(std::string(host), ec);
  if (ec) {
    return ec;
  }
  return request<asio::ip::tcp>({address, port}, method, target, host, deadline, extras);
}

boost::system::result<HttpResponse> http_request_unix(std::string_view socket_path,
                                                      http::verb method, std::string_view target,
                                                      std::chrono::milliseconds deadline,
                                                      const HttpExtras& extras) {
  return request<asio::local::stream_protocol>(
      asio::local::stream_protocol::endpoint(std::string(socket_path)), method, target, "localhost",
      deadline, extras);
}

std::string require_env(const char* name) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): tests read their environment before starting threads
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string(name) +
                             " is not set: start the services with `scripts/services up` and "
                             "`source <state>/env` (scripts/test does both)");
  }
  return value;
}

}  // namespace galaxy::testsupport
