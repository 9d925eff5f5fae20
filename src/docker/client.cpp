#include "galaxy/docker/client.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/url/url.hpp>
#include <cstdlib>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "line_splitter.hpp"

namespace galaxy::docker {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using boost::system::error_code;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kHeaderLimit = std::size_t{64} * 1024;
constexpr std::size_t kChunkBytes = std::size_t{64} * 1024;
constexpr std::size_t kMaxErrorMessage = 300;
// read_events' code for a body that reached its last chunk; stream_events makes it kCompleteCode
// when it asked for an end (until), and drops it otherwise.
constexpr std::string_view kBodyEndCode = "body-end";

// Docker reads instants as "seconds.nanoseconds".
std::string docker_timestamp(std::int64_t ns) {
  std::string frac = std::to_string(ns % 1'000'000'000);
  frac.insert(0, 9 - frac.size(), '0');
  return std::to_string(ns / 1'000'000'000) + "." + frac;
}

using UnixStream = beast::basic_stream<asio::local::stream_protocol>;
using TcpStream = beast::tcp_stream;
using Stream = std::variant<UnixStream, TcpStream>;

// How one request/response exchange went. ec is set when there is no usable response.
struct Reply {
  error_code ec;
  std::string detail;  // operator-readable addition to ec (Docker's message, parse error)
  unsigned status = 0;
  std::string body;
  std::string api_version;  // the Api-Version header
};

struct RequestLine {
  http::verb method;
  std::string target;
};

std::string describe(const RequestLine& r) {
  return std::string(http::to_string(r.method)) + " " + r.target;
}

// Docker's error bodies are {"message": "..."}; anything else is shown raw, shortened.
std::string docker_message(unsigned status, std::string_view body) {
  std::string msg;
  error_code ec;
  const json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const auto* m = v.as_object().if_contains("message"); m != nullptr && m->is_string()) {
      msg = std::string(m->as_string());
    }
  }
  if (msg.empty()) {
    msg = std::string(body.substr(0, kMaxErrorMessage));
  }
  if (msg.size() > kMaxErrorMessage) {
    msg.resize(kMaxErrorMessage);
  }
  return "HTTP " + std::to_string(status) + (msg.empty() ? "" : " " + msg);
}

// What a caller can do about a transport outcome (after normalize()).
ErrorKind kind_of(error_code ec) {
  if (ec == asio::error::timed_out) {
    return ErrorKind::timeout;
  }
  if (ec == asio::error::eof) {
    return ErrorKind::closed;
  }
  if (ec == errc::bad_response || ec == errc::body_too_large) {
    return ErrorKind::protocol;
  }
  // Refused, reset, no socket at the path, DNS, unreachable: the daemon may come back.
  return ErrorKind::io;
}

Error transport_error(std::string path, error_code ec, const std::string& detail = {}) {
  if (ec == asio::error::operation_aborted) {
    return cancelled_error(std::move(path));
  }
  std::string reason = ec.message();
  if (!detail.empty()) {
    reason += ": " + detail;
  }
  return make_error(kind_of(ec), std::move(path), std::move(reason));
}

Error to_error(const RequestLine& r, const Reply& reply) {
  return transport_error(describe(r), reply.ec, reply.detail);
}

Error status_error(const RequestLine& r, unsigned status, std::string_view body) {
  return make_error(ErrorKind::server, describe(r), docker_message(status, body),
                    std::to_string(status));
}

// A 200 whose body is not what the call expects: the daemon is not speaking the API we think.
Error body_error(std::string path, std::string reason) {
  return make_error(ErrorKind::protocol, std::move(path), std::move(reason));
}

// Callers branch on a few outcomes; Beast's own codes are folded into those.
error_code normalize(error_code ec) {
  if (ec == beast::error::timeout) {
    return asio::error::timed_out;
  }
  if (ec == http::error::body_limit) {
    return errc::body_too_large;
  }
  if (ec == http::error::end_of_stream) {
    return asio::error::eof;
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return errc::bad_response;
  }
  return ec;
}

// Docker container ids and names: [a-zA-Z0-9][a-zA-Z0-9_.-]*. Anything else would change the
// request path.
bool valid_container_ref(std::string_view id) {
  if (id.empty() || id.size() > 256) {
    return false;
  }
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) {
      return false;
    }
  }
  return true;
}

std::string filters_json(std::string_view type, const std::vector<std::string>& labels) {
  json::object filters;
  if (!type.empty()) {
    filters["type"] = json::array{json::string(type)};
  }
  if (!labels.empty()) {
    json::array l;
    for (const auto& label : labels) {
      l.emplace_back(label);
    }
    filters["label"] = std::move(l);
  }
  return json::serialize(filters);
}

Stream make_stream(const asio::any_io_executor& ex, const DockerEndpoint& ep) {
  if (std::holds_alternative<UnixEndpoint>(ep)) {
    return Stream{std::in_place_type<UnixStream>, ex};
  }
  return Stream{std::in_place_type<TcpStream>, ex};
}

asio::awaitable<error_code> connect_to(UnixStream& s, const DockerEndpoint& ep,
                                       std::chrono::milliseconds timeout) {
  s.expires_after(timeout);
  auto [ec] = co_await s.async_connect(
      asio::local::stream_protocol::endpoint(std::get<UnixEndpoint>(ep).path), kTok);
  co_return normalize(ec);
}

asio::awaitable<error_code> connect_to(TcpStream& s, const DockerEndpoint& ep,
                                       std::chrono::milliseconds timeout) {
  const auto& tcp = std::get<TcpEndpoint>(ep);
  // The resolver has no deadline of its own: a timer cancels it. Both are shared with the timer's
  // handler, which may run after this frame is gone.
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(s.get_executor());
  asio::steady_timer watchdog(s.get_executor(), timeout);
  watchdog.async_wait([resolver](error_code ec) {
    if (!ec) {
      resolver->cancel();
    }
  });
  auto [rec, results] = co_await resolver->async_resolve(tcp.host, tcp.port, kTok);
  watchdog.cancel();
  if (rec) {
    co_return rec == asio::error::operation_aborted ? error_code(asio::error::timed_out) : rec;
  }
  s.expires_after(timeout);
  auto [ec, endpoint] = co_await s.async_connect(results, kTok);
  static_cast<void>(endpoint);
  co_return normalize(ec);
}

std::string host_header(const DockerEndpoint& ep) {
  if (const auto* tcp = std::get_if<TcpEndpoint>(&ep)) {
    return tcp->host + ":" + tcp->port;
  }
  return "docker";  // any name does over a unix socket; Docker's own CLI sends one too
}

http::request<http::string_body> make_request(const RequestLine& line, const DockerEndpoint& ep,
                                              const std::string& user_agent, std::string body) {
  http::request<http::string_body> req{line.method, line.target, 11};
  req.set(http::field::host, host_header(ep));
  req.set(http::field::user_agent, user_agent);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
  }
  req.prepare_payload();
  return req;
}

// Feeds a parser from the stream like http::async_read_some: returns after the parser made
// progress (or completed, or failed). Written out because Beast 1.81's basic_parser asserts when
// a chunked body's final chunk is re-presented in fewer than 5 bytes ("0\r\n" then "\r"),
// which a debug build hits on an empty events stream split badly (boostorg/beast #2861, fixed
// after 1.81). After a need_more on fewer than 5 bytes this waits for 5: the final chunk has
// 5, and any other element that stalls there is a chunk header whose data follows anyway.
template <class S, class Parser>
asio::awaitable<error_code> read_some(S& s, beast::flat_buffer& buffer, Parser& parser) {
  constexpr std::size_t kFinalChunkBytes = 5;
  constexpr std::size_t kReadBytes = std::size_t{16} * 1024;
  bool hold = false;
  bool closed = false;
  for (;;) {
    if (buffer.size() > 0 && !(hold && buffer.size() < kFinalChunkBytes)) {
      error_code ec;
      const std::size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more) {
        hold = parser.is_header_done() && parser.chunked() && buffer.size() < kFinalChunkBytes;
        ec = {};
      }
      if (ec || used > 0 || parser.is_done()) {
        co_return ec;
      }
    }
    if (closed) {
      if (!parser.got_some()) {
        co_return http::error::end_of_stream;  // closed before a single byte of response
      }
      error_code ec;
      parser.put_eof(ec);  // completes a body that runs to the close, else partial_message
      co_return ec;
    }
    auto [ec, n] = co_await s.async_read_some(buffer.prepare(kReadBytes), kTok);
    buffer.commit(n);
    if (ec == asio::error::eof) {
      closed = true;  // parse what arrived before the close first
    } else if (ec) {
      co_return ec;
    }
  }
}

template <class S>
asio::awaitable<Reply> exchange(S& s, const http::request<http::string_body>& req,
                                std::chrono::milliseconds timeout, std::size_t max_body) {
  Reply reply;
  s.expires_after(timeout);
  auto [wec, written] = co_await http::async_write(s, req, kTok);
  static_cast<void>(written);
  if (wec) {
    reply.ec = normalize(wec);
    co_return reply;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(max_body);
  error_code rec;
  while (!rec && !parser.is_done()) {
    rec = co_await read_some(s, buffer, parser);
  }
  if (rec) {
    reply.ec = normalize(rec);
    if (reply.ec != rec && rec != beast::error::timeout) {
      reply.detail = rec.message();  // which HTTP parse error, under errc::bad_response
    }
    co_return reply;
  }
  auto& res = parser.get();
  reply.status = res.result_int();
  reply.api_version = std::string(res["Api-Version"]);
  reply.body = std::move(res.body());
  co_return reply;
}

// Streams the events body through a bounded buffer; returns why it ended.
template <class S>
asio::awaitable<Error> read_events(S& s, const std::string& path,
                                   const http::request<http::string_body>& req,
                                   std::chrono::milliseconds timeout, std::size_t max_line_bytes,
                                   const EventHandler& on_event) {
  s.expires_after(timeout);
  auto [wec, written] = co_await http::async_write(s, req, kTok);
  static_cast<void>(written);
  if (wec) {
    co_return transport_error(path, normalize(wec));
  }
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(boost::none);  // the stream is endless by design; lines are bounded below
  error_code hec;
  while (!hec && !parser.is_header_done()) {
    hec = co_await read_some(s, buffer, parser);
  }
  if (hec) {
    co_return transport_error(path, normalize(hec));
  }
  if (parser.get().result() != http::status::ok) {
    // The body of an error answer is not read: the stream's parser has no buffer for it yet.
    const unsigned status = parser.get().result_int();
    co_return make_error(ErrorKind::server, path, docker_message(status, ""),
                         std::to_string(status));
  }
  s.expires_never();  // Docker sends nothing while nothing happens; the caller watches liveness

  std::vector<char> chunk(kChunkBytes);
  detail::LineSplitter splitter(max_line_bytes);
  const auto on_line = [&](std::string_view line) { on_event(parse_event(line, max_line_bytes)); };
  const auto on_overflow = [&](std::size_t bytes) {
    on_event(make_error("/", "event line of " + std::to_string(bytes) +
                                 " bytes exceeds the limit of " + std::to_string(max_line_bytes)));
  };
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    error_code ec = co_await read_some(s, buffer, parser);
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    const std::size_t got = chunk.size() - parser.get().body().size;
    splitter.feed(std::string_view(chunk.data(), got), on_line, on_overflow);
    if (ec) {
      if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
          ec == asio::error::eof) {
        break;
      }
      co_return transport_error(path, normalize(ec));
    }
  }
  // Only a body that ended with its last chunk is Docker ending the stream on purpose (at `until`);
  // a connection closed mid-body is a break.
  co_return make_error(ErrorKind::closed, path, "the Docker events stream was closed",
                       parser.is_done() ? std::string(kBodyEndCode) : std::string());
}

// Asio raises operation_aborted as an exception when a cancelled coroutine awaits again; the
// client's contract is error values, so each public call converts it back.
Error from_exception(const boost::system::system_error& e) {
  return transport_error("docker", e.code());
}

}  // namespace

Result<DockerEndpoint> parse_docker_host(std::string_view text) {
  constexpr std::string_view kUnix = "unix://";
  constexpr std::string_view kTcp = "tcp://";
  if (text.starts_with(kUnix)) {
    std::string path(text.substr(kUnix.size()));
    if (path.empty() || path.front() != '/') {
      return make_error("DOCKER_HOST", "unix:// needs an absolute socket path");
    }
    return DockerEndpoint{UnixEndpoint{std::move(path)}};
  }
  if (text.starts_with(kTcp)) {
    std::string_view rest = text.substr(kTcp.size());
    while (rest.ends_with('/')) {
      rest.remove_suffix(1);
    }
    const auto colon = rest.rfind(':');
    std::string host(rest.substr(0, colon));
    std::string port =
        colon == std::string_view::npos ? "2375" : std::string(rest.substr(colon + 1));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos) {
      return make_error("DOCKER_HOST", "tcp:// needs host:port");
    }
    return DockerEndpoint{TcpEndpoint{std::move(host), std::move(port)}};
  }
  return make_error("DOCKER_HOST",
                    "expected unix:///path or tcp://host:port, got \"" + std::string(text) + "\"");
}

DockerClientSettings DockerClientSettings::from_environment() {
  DockerClientSettings s;
  // getenv at start-up, before any thread exists.
  const char* host = std::getenv("DOCKER_HOST");  // NOLINT(concurrency-mt-unsafe)
  if (host != nullptr && *host != '\0') {
    s.host = host;
  }
  return s;
}

DockerClient::DockerClient(boost::asio::any_io_executor executor, DockerClientSettings settings)
    : executor_(std::move(executor)),
      settings_(std::move(settings)),
      endpoint_(parse_docker_host(settings_.host).value()) {}

namespace {

// One connection, one request: Docker's unix socket makes connecting cheap, and concurrent calls
// never wait for each other's responses.
asio::awaitable<Reply> round_trip(const asio::any_io_executor& ex, const DockerEndpoint& ep,
                                  const DockerClientSettings& settings, const RequestLine& line,
                                  std::string body, std::chrono::milliseconds timeout) {
  Stream stream = make_stream(ex, ep);
  const auto req = make_request(line, ep, settings.user_agent, std::move(body));
  Reply reply;
  reply.ec = co_await std::visit(
      [&](auto& s) { return connect_to(s, ep, settings.connect_timeout); }, stream);
  if (reply.ec) {
    co_return reply;
  }
  co_return co_await std::visit(
      [&](auto& s) { return exchange(s, req, timeout, settings.max_body_bytes); }, stream);
}

}  // namespace

asio::awaitable<Result<ApiVersion>> DockerClient::negotiate() {
  const RequestLine line{http::verb::get, "/_ping"};
  try {
    const Reply reply =
        co_await round_trip(executor_, endpoint_, settings_, line, {}, settings_.request_timeout);
    if (reply.ec) {
      co_return to_error(line, reply);
    }
    if (reply.status != 200) {
      co_return status_error(line, reply.status, reply.body);
    }
    if (reply.api_version.empty()) {
      co_return body_error(describe(line), "no Api-Version header (Docker older than 1.25?)");
    }
    auto v = negotiate_api_version(reply.api_version);
    if (!v) {
      Error e = v.error();
      e.kind = ErrorKind::protocol;  // a version we cannot speak, or not a version at all
      co_return e;
    }
    version_ = *v;
    co_return v;
  } catch (const boost::system::system_error& e) {
    co_return from_exception(e);
  }
}

namespace {

asio::awaitable<Result<ApiVersion>> ready(ApiVersion v) {
  co_return v;
}

}  // namespace

// Not a coroutine itself: once negotiated, the caller awaits a trivial frame, not two.
asio::awaitable<Result<ApiVersion>> DockerClient::ensure_version() {
  if (version_) {
    return ready(*version_);
  }
  return negotiate();
}

// A ping is a negotiation whose version the caller does not need (it is kept for later calls).
asio::awaitable<Result<void>> DockerClient::ping() {
  auto v = co_await negotiate();
  if (!v) {
    co_return v.error();
  }
  co_return Result<void>{};
}

asio::awaitable<Result<DockerInfo>> DockerClient::info() {
  try {
    auto v = co_await ensure_version();
    if (!v) {
      co_return v.error();
    }
    const RequestLine line{http::verb::get, "/v" + v->to_string() + "/info"};
    const Reply reply =
        co_await round_trip(executor_, endpoint_, settings_, line, {}, settings_.request_timeout);
    if (reply.ec) {
      co_return to_error(line, reply);
    }
    if (reply.status != 200) {
      co_return status_error(line, reply.status, reply.body);
    }
    auto parsed = parse_info(reply.body);
    if (!parsed) {
      co_return body_error(describe(line) + " " + parsed.error().path, parsed.error().reason);
    }
    co_return parsed;
  } catch (const boost::system::system_error& e) {
    co_return from_exception(e);
  }
}

asio::awaitable<Result<std::vector<ContainerSummary>>> DockerClient::list_containers(
    std::string label) {
  try {
    auto v = co_await ensure_version();
    if (!v) {
      co_return v.error();
    }
    boost::urls::url url;
    url.set_path("/v" + v->to_string() + "/containers/json");
    url.params().append({"all", "true"});
    url.params().append({"filters", filters_json("", {std::move(label)})});
    const RequestLine line{http::verb::get, std::string(url.buffer())};
    const Reply reply =
        co_await round_trip(executor_, endpoint_, settings_, line, {}, settings_.request_timeout);
    if (reply.ec) {
      co_return to_error(line, reply);
    }
    if (reply.status != 200) {
      co_return status_error(line, reply.status, reply.body);
    }
    auto parsed = parse_container_list(reply.body);
    if (!parsed) {
      co_return body_error(describe(line) + " " + parsed.error().path, parsed.error().reason);
    }
    co_return parsed;
  } catch (const boost::system::system_error& e) {
    co_return from_exception(e);
  }
}

asio::awaitable<InspectOutcome> DockerClient::inspect(std::string id) {
  try {
    if (!valid_container_ref(id)) {
      co_return make_error("/", "not a container id: \"" + id.substr(0, 80) + "\"");
    }
    auto v = co_await ensure_version();
    if (!v) {
      co_return v.error();
    }
    const RequestLine line{http::verb::get, "/v" + v->to_string() + "/containers/" + id + "/json"};
    const Reply reply =
        co_await round_trip(executor_, endpoint_, settings_, line, {}, settings_.request_timeout);
    if (reply.ec) {
      co_return to_error(line, reply);
    }
    if (reply.status == 404) {
      co_return NotFound{};
    }
    if (reply.status != 200) {
      co_return status_error(line, reply.status, reply.body);
    }
    auto parsed = parse_inspect(reply.body);
    if (!parsed) {
      co_return body_error(describe(line) + " " + parsed.error().path, parsed.error().reason);
    }
    co_return std::move(*parsed);
  } catch (const boost::system::system_error& e) {
    co_return InspectOutcome{from_exception(e)};
  }
}

asio::awaitable<Error> DockerClient::stream_events(EventsQuery query, EventHandler on_event) {
  try {
    if (!version_) {
      if (auto v = co_await negotiate(); !v) {
        co_return v.error();
      }
    }
    boost::urls::url url;
    url.set_path("/v" + version_->to_string() + "/events");
    // Errors name the request without its query (since, filters): they are logged at every
    // reconnect.
    const std::string path = describe(RequestLine{http::verb::get, std::string(url.path())});
    if (query.since_nano) {
      url.params().append({"since", docker_timestamp(*query.since_nano)});
    }
    if (query.until_nano) {
      url.params().append({"until", docker_timestamp(*query.until_nano)});
    }
    url.params().append({"filters", filters_json(query.type, query.labels)});
    const RequestLine line{http::verb::get, std::string(url.buffer())};

    Stream stream = make_stream(executor_, endpoint_);
    const auto req = make_request(line, endpoint_, settings_.user_agent, {});
    const error_code ec = co_await std::visit(
        [&](auto& s) { return connect_to(s, endpoint_, settings_.connect_timeout); }, stream);
    if (ec) {
      co_return transport_error(path, ec);
    }
    Error ended = co_await std::visit(
        [&](auto& s) {
          return read_events(s, path, req, settings_.request_timeout, settings_.max_line_bytes,
                             on_event);
        },
        stream);
    if (ended.kind == ErrorKind::closed && ended.code == kBodyEndCode) {
      if (query.until_nano) {
        ended.code = std::string(kCompleteCode);
        ended.reason = "the Docker events replay is complete";
      } else {
        ended.code.clear();
      }
    }
    co_return ended;
  } catch (const boost::system::system_error& e) {
    co_return from_exception(e);
  }
}

namespace {

// Namespace-scope lists: GCC 12 rejects braced lists as arguments of a co_await'ed call.
constexpr std::array<unsigned, 1> kCreated{201};
constexpr std::array<unsigned, 2> kDoneOrNothingToDo{204, 304};  // start, stop
constexpr std::array<unsigned, 1> kRemoved{204};

Result<void> expect_status(const RequestLine& line, const Reply& reply,
                           std::span<const unsigned> ok) {
  if (reply.ec) {
    return to_error(line, reply);
  }
  for (unsigned s : ok) {
    if (reply.status == s) {
      return {};
    }
  }
  return status_error(line, reply.status, reply.body);
}

// Docker's reference grammar (name components, domain and port, tag, digest) and image ids
// ("sha256:..." or hex) use only these characters. Every '/'-separated component has to start
// alphanumeric, so none can be "." or "..", and none is empty: the ref cannot walk out of
// /images/ even where a proxy would normalise the path.
bool valid_image_ref(std::string_view ref) {
  constexpr std::size_t kMaxRef = 512;  // a 255-character name plus a long digest
  if (ref.empty() || ref.size() > kMaxRef || ref.find("..") != std::string_view::npos) {
    return false;
  }
  bool component_start = true;
  for (const char c : ref) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (c == '/') {
      if (component_start) {
        return false;  // leading '/' or "//"
      }
      component_start = true;
      continue;
    }
    if (component_start && !alnum) {
      return false;
    }
    component_start = false;
    if (!alnum && c != '.' && c != '_' && c != '-' && c != ':' && c != '@' && c != '+') {
      return false;
    }
  }
  return !component_start;  // no trailing '/'
}

// A network that shares a namespace with the host or another container would let a spec escape
// the isolation ContainerCreate promises; "none" and named networks do not.
bool allowed_network(std::string_view network) {
  return network != "host" && valid_container_ref(network);
}

Error bad_id(const std::string& id) {
  return make_error("/", "not a container id: \"" + id.substr(0, 80) + "\"");
}

// The path after "/v{version}", each segment percent-encoded by Boost.URL so that no argument can
// add a segment, a query or a fragment (callers validate ids too: a clear error beats a 404).
boost::urls::url container_target(std::string_view id, std::string_view action) {
  boost::urls::url url;
  url.set_path_absolute(true);
  url.segments().push_back("containers");
  url.segments().push_back(id);
  if (!action.empty()) {
    url.segments().push_back(action);
  }
  return url;
}

Result<std::string> create_body(const ContainerCreate& spec) {
  if (!valid_image_ref(spec.image)) {
    return make_error("/image", "not an image reference: \"" + spec.image.substr(0, 80) + "\"");
  }
  if (!spec.name.empty() && !valid_container_ref(spec.name)) {
    return make_error("/name", "not a container name: \"" + spec.name.substr(0, 80) + "\"");
  }
  if (!spec.network.empty() && !allowed_network(spec.network)) {
    return make_error("/network", "not a network Runtime Manager may use: \"" +
                                      spec.network.substr(0, 80) + "\"");
  }
  if (spec.memory_bytes < 0) {
    return make_error("/memory_bytes", "must not be negative");
  }
  if (spec.nano_cpus < 0) {
    return make_error("/nano_cpus", "must not be negative");
  }
  json::object body;
  body["Image"] = spec.image;
  if (!spec.cmd.empty()) {
    body["Cmd"] = json::value_from(spec.cmd);
  }
  if (!spec.env.empty()) {
    body["Env"] = json::value_from(spec.env);
  }
  body["Labels"] = json::value_from(spec.labels);
  json::object host_config;
  if (spec.memory_bytes > 0) {
    host_config["Memory"] = spec.memory_bytes;
    // Docker's default swap is twice Memory: an engine over its limit would page instead of
    // being OOM-killed, which is what the limit is there to detect.
    host_config["MemorySwap"] = spec.memory_bytes;
  }
  if (spec.nano_cpus > 0) {
    host_config["NanoCpus"] = spec.nano_cpus;
  }
  if (!spec.network.empty()) {
    host_config["NetworkMode"] = spec.network;
  }
  body["HostConfig"] = std::move(host_config);
  return json::serialize(body);
}

}  // namespace

asio::awaitable<Result<std::string>> DockerClient::create_container(ContainerCreate spec) {
  try {
    auto body = create_body(spec);
    if (!body) {
      co_return body.error();
    }
    auto v = co_await ensure_version();
    if (!v) {
      co_return v.error();
    }
    boost::urls::url url;
    url.set_path("/v" + v->to_string() + "/containers/create");
    if (!spec.name.empty()) {
      url.params().append({"name", spec.name});
    }
    const RequestLine line{http::verb::post, std::string(url.buffer())};
    const Reply reply = co_await round_trip(executor_, endpoint_, settings_, line, std::move(*body),
                                            settings_.request_timeout);
    if (auto ok = expect_status(line, reply, kCreated); !ok) {
      co_return ok.error();
    }
    error_code ec;
    const json::value created = json::parse(reply.body, ec);
    const json::value* id =
        (!ec && created.is_object()) ? created.as_object().if_contains("Id") : nullptr;
    if (id == nullptr || !id->is_string() || id->as_string().empty()) {
      co_return body_error(describe(line) + " /Id", "missing in the create response");
    }
    co_return Result<std::string>{boost::system::in_place_value, id->as_string()};
  } catch (const boost::system::system_error& e) {
    co_return from_exception(e);
  }
}

asio::awaitable<Result<void>> DockerClient::versioned_call(http_verb method, std::string tail,
                                                           std::chrono::milliseconds timeout,
                                                           std::span<const unsigned> ok) {
  try {
    auto v = co_await ensure_version();
    if (!v) {
      co_return v.error();
    }
    const RequestLine line{method, "/v" + v->to_string() + tail};
    const Reply reply = co_await round_trip(executor_, endpoint_, settings_, line, {}, timeout);
    co_return expect_status(line, reply, ok);
  } catch (const boost::system::system_error& e) {
    co_return from_exception(e);
  }
}

asio::awaitable<Result<void>> DockerClient::start_container(std::string id) {
  try {
    if (!valid_container_ref(id)) {
      co_return bad_id(id);
    }
    std::string tail(container_target(id, "start").buffer());
    co_return co_await versioned_call(http::verb::post, std::move(tail), settings_.request_timeout,
                                      kDoneOrNothingToDo);
  } catch (const boost::system::system_error& e) {
    co_return from_exception(e);
  }
}

asio::awaitable<Result<void>> DockerClient::stop_container(std::string id,
                                                           std::chrono::seconds timeout) {
  try {
    if (!valid_container_ref(id)) {
      co_return bad_id(id);
    }
    if (timeout.count() < 0) {
      // Docker reads t=-1 as "wait for ever", which no deadline of ours could cover.
      co_return make_error("/timeout", "must not be negative");
    }
    auto url = container_target(id, "stop");
    url.params().append({"t", std::to_string(timeout.count())});
    std::string tail(url.buffer());
    // Docker answers only after the container stopped: up to the timeout, then the SIGKILL.
    co_return co_await versioned_call(http::verb::post, std::move(tail),
                                      settings_.request_timeout + timeout, kDoneOrNothingToDo);
  } catch (const boost::system::system_error& e) {
    co_return from_exception(e);
  }
}

asio::awaitable<Result<void>> DockerClient::remove_container(std::string id, bool force) {
  try {
    if (!valid_container_ref(id)) {
      co_return bad_id(id);
    }
    auto url = container_target(id, "");
    url.params().append({"force", force ? "true" : "false"});
    std::string tail(url.buffer());
    co_return co_await versioned_call(http::verb::delete_, std::move(tail),
                                      settings_.request_timeout, kRemoved);
  } catch (const boost::system::system_error& e) {
    co_return from_exception(e);
  }
}

asio::awaitable<Result<bool>> DockerClient::image_exists(std::string ref) {
  try {
    if (!valid_image_ref(ref)) {
      co_return make_error("/", "not an image reference: \"" + ref.substr(0, 80) + "\"");
    }
    auto v = co_await ensure_version();
    if (!v) {
      co_return v.error();
    }
    // One segment per '/'-separated component: Docker's route takes the slashes of a repository
    // name literally ("/images/{name:.*}/json"), as its own CLI sends them.
    boost::urls::url url;
    url.set_path_absolute(true);
    url.segments().push_back("v" + v->to_string());
    url.segments().push_back("images");
    for (std::string_view rest = ref;;) {
      const auto slash = rest.find('/');
      url.segments().push_back(rest.substr(0, slash));
      if (slash == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(slash + 1);
    }
    url.segments().push_back("json");
    const RequestLine line{http::verb::get, std::string(url.buffer())};
    const Reply reply =
        co_await round_trip(executor_, endpoint_, settings_, line, {}, settings_.request_timeout);
    if (reply.ec) {
      co_return to_error(line, reply);
    }
    if (reply.status == 404) {
      co_return false;
    }
    if (reply.status != 200) {
      co_return status_error(line, reply.status, reply.body);
    }
    error_code ec;
    const json::value image = json::parse(reply.body, ec);
    if (ec || !image.is_object()) {
      co_return body_error(describe(line), "the image inspect answer is not a JSON object");
    }
    co_return true;
  } catch (const boost::system::system_error& e) {
    co_return from_exception(e);
  }
}

}  // namespace galaxy::docker
