#include "galaxy/lifecycle/api_server.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <cerrno>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "galaxy/common/listen_address.hpp"
#include "galaxy/common/tokens.hpp"
#include "galaxy/common/unique_fd.hpp"

namespace galaxy::lifecycle {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;
using boost::system::error_code;

constexpr std::uint32_t kHeaderLimit = 16 * 1024;
// After a failed accept (EMFILE, ENOBUFS) the next one fails the same way at once; a pause keeps
// the loop from spinning until a descriptor is free.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

std::string errno_text(int err) {
  return std::error_code(err, std::system_category()).message();
}

// --- listen address -----------------------------------------------------------------------------

struct ListenSpec {
  std::optional<std::string> unix_path;
  tcp::endpoint endpoint;
};

Result<ListenSpec> parse_listen(const ApiSettings& s) {
  const std::string flag = "--api-listen";
  if (s.listen.starts_with("unix:")) {
    std::string path = s.listen.substr(5);
    if (path.empty()) {
      return make_error(flag, "unix: needs a socket path (got '" + s.listen + "')");
    }
    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return make_error(flag, fmt::format("the socket path is longer than {} bytes (got '{}')",
                                          sizeof(sockaddr_un{}.sun_path) - 1, s.listen));
    }
    return ListenSpec{std::move(path), {}};
  }
  auto endpoint = parse_listen_address(s.listen);
  if (!endpoint) {
    return make_error(flag + endpoint.error().path, endpoint.error().reason + " (got '" + s.listen +
                                                        "'; or unix:PATH for a unix socket)");
  }
  if (!s.allow_remote && !endpoint->address().is_loopback()) {
    return make_error(flag, s.listen +
                                " is not a loopback address: the API runs containers, so "
                                "listening beyond this host needs --api-allow-remote");
  }
  if (s.token_file.empty()) {
    return make_error("--api-token-file",
                      "required when --api-listen is HOST:PORT (got '" + s.listen + "')");
  }
  return ListenSpec{std::nullopt, *endpoint};
}

std::string format_endpoint(const tcp::endpoint& ep) {
  const auto& a = ep.address();
  return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), ep.port())
                   : fmt::format("{}:{}", a.to_string(), ep.port());
}

// A socket file is stale when nothing accepts on it. The probe connects without blocking: on a
// unix socket that either succeeds, is refused (no listener), or finds the backlog full (a
// listener, busy).
Result<void> clear_stale_socket(const std::string& path) {
  const std::string flag = "--api-listen";
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return {};
    }
    return make_error(ErrorKind::io, flag, "cannot stat " + path + ": " + errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error(ErrorKind::io, flag, path + " exists and is not a socket");
  }
  const UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (probe.get() < 0) {
    return make_error(ErrorKind::io, flag, "socket: " + errno_text(errno));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(static_cast<char*>(addr.sun_path), sizeof(addr.sun_path) - 1);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API's own cast
  const int rc = ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS) {
    return make_error(ErrorKind::io, flag, "a server is already listening on " + path);
  }
  if (errno != ECONNREFUSED) {
    return make_error(ErrorKind::io, flag, "cannot probe " + path + ": " + errno_text(errno));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return make_error(ErrorKind::io, flag,
                      "cannot remove the stale " + path + ": " + errno_text(errno));
  }
  return {};
}

// --- routing ------------------------------------------------------------------------------------

std::vector<std::string> split_pattern(const std::string& pattern) {
  std::vector<std::string> out;
  std::string_view rest(pattern);
  if (rest.starts_with('/')) {
    rest.remove_prefix(1);
  }
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    out.emplace_back(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  }
  return out;
}

bool is_capture(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool match_segments(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
                    std::map<std::string, std::string>& params) {
  if (pattern.size() != path.size()) {
    return false;
  }
  std::map<std::string, std::string> captured;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (is_capture(pattern[i])) {
      if (path[i].empty()) {
        return false;
      }
      captured[pattern[i].substr(1, pattern[i].size() - 2)] = path[i];
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  params = std::move(captured);
  return true;
}

ApiResponse error_of(unsigned status, std::string code, std::string message) {
  return error_response(ApiError{status, std::move(code), std::move(message), ""});
}

// Beast's parse errors are the client's mistake and get a 400; its end-of-stream ones (and every
// transport error) mean there is nobody to answer.
bool answerable(const error_code& ec) {
  if (ec.category() != http::make_error_code(http::error::bad_target).category()) {
    return false;
  }
  return ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::short_read && ec != http::error::need_more &&
         ec != http::error::stale_parser;
}

}  // namespace

ApiResponse error_response(const ApiError& e) {
  return ApiResponse{e.status, error_json(e)};
}

struct ApiServer::State : std::enable_shared_from_this<ApiServer::State> {
  State(asio::any_io_executor ex, ApiSettings s)
      : executor(std::move(ex)), settings(std::move(s)) {}

  struct Route {
    http::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    ApiHandler handler;
  };

  struct Connection {
    asio::cancellation_signal cancel;
    std::function<void()> close;
  };

  // What one request came to, before it is written.
  struct Outcome {
    ApiResponse response;
    std::string path;  // percent-decoded, for the log
    bool keep_alive = false;
    std::string allow;       // 405
    bool challenge = false;  // 401
  };

  asio::any_io_executor executor;
  ApiSettings settings;
  std::vector<Route> routes;
  std::vector<Token> tokens;
  std::optional<tcp::acceptor> tcp_acceptor;
  std::optional<local::acceptor> unix_acceptor;
  std::string address;  // local_address(), kept after stop()
  std::string socket_path;
  dev_t socket_dev = 0;
  ino_t socket_ino = 0;
  std::map<std::uint64_t, std::shared_ptr<Connection>> connections;
  std::uint64_t next_connection = 0;
  bool started = false;
  bool stopped = false;

  // The token's name; "" when the request does not carry a valid one.
  std::string authenticate(const http::request_header<>& h) const {
    const std::string_view value = h[http::field::authorization];
    constexpr std::string_view scheme = "bearer ";
    if (value.size() <= scheme.size() || !beast::iequals(value.substr(0, scheme.size()), scheme)) {
      return "";
    }
    std::string_view presented = value.substr(scheme.size());
    presented.remove_prefix(std::min(presented.find_first_not_of(' '), presented.size()));
    return match_token(tokens, presented).value_or("");
  }

  asio::awaitable<Outcome> dispatch(ApiRequest& req, std::string_view raw_target) {
    Outcome out;
    out.path = req.target;
    const auto target = boost::urls::parse_origin_form(raw_target);
    if (!target) {
      out.response = error_of(400, "bad_request", "the request target is not a valid path");
      co_return out;
    }
    req.target = std::string(target->path());
    out.path = req.target;
    for (const auto& p : target->params()) {
      req.query[std::string(p.key)] = p.has_value ? std::string(p.value) : std::string();
    }
    std::vector<std::string> segments;
    for (const auto& s : target->segments()) {
      segments.emplace_back(s);
    }
    const Route* found = nullptr;
    std::set<std::string> allowed;
    for (const auto& r : routes) {
      std::map<std::string, std::string> params;
      if (!match_segments(r.segments, segments, params)) {
        continue;
      }
      allowed.emplace(http::to_string(r.method));
      if (r.method == req.method && found == nullptr) {
        found = &r;
        req.params = std::move(params);
      }
    }
    if (found == nullptr) {
      if (allowed.empty()) {
        out.response = error_of(404, "not_found", "no such endpoint: " + req.target);
      } else {
        for (const auto& m : allowed) {
          out.allow += (out.allow.empty() ? "" : ", ") + m;
        }
        out.response =
            error_of(405, "method_not_allowed", req.target + " answers " + out.allow + " only");
      }
      co_return out;
    }
    // A copy: the coroutine the handler starts may refer to the handler's own captures, and a
    // route added meanwhile may move the registry's.
    const ApiHandler handler = found->handler;
    const std::string what_ran =
        fmt::format("{} {} by {}", http::to_string(found->method), found->pattern, req.who);
    std::exception_ptr failure;
    try {
      out.response = co_await handler(std::move(req));
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      if (stopped) {
        std::rethrow_exception(failure);  // cancelled by stop(): nobody to answer
      }
      std::string what = "unknown exception";
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
        // Not a std::exception: the default text is all there is to say.
      }
      spdlog::error("api: {} failed: {}", what_ran, what);
      out.response = error_of(500, "internal", "the request failed inside the server; see its log");
    }
    co_return out;
  }

  template <class Stream>
  asio::awaitable<void> write(Stream& stream, const Outcome& o, unsigned version) {
    http::response<http::string_body> res{static_cast<http::status>(o.response.status), version};
    res.set(http::field::server, "runtime-manager");
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    if (!o.allow.empty()) {
      res.set(http::field::allow, o.allow);
    }
    if (o.challenge) {
      res.set(http::field::www_authenticate, "Bearer");
    }
    res.keep_alive(o.keep_alive);
    res.body() = o.response.body;
    res.prepare_payload();
    error_code ec;
    stream.expires_after(settings.read_timeout);
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      throw boost::system::system_error(ec);
    }
  }

  // What a connection does after a request.
  enum class Next : std::uint8_t {
    serve,   // keep-alive: read the next request
    linger,  // answered and closing: let the client read the answer
    close,   // the client is gone, or stop(): nobody to answer
  };

  template <class Stream>
  asio::awaitable<Next> serve_one(Stream& stream, beast::flat_buffer& buffer,
                                  const std::string& peer) {
    const auto token = [](error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); };
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    // No limit while the headers are read: Beast would refuse a large Content-Length before the
    // token is checked, and a caller without a token should learn nothing, not even a 413.
    parser.body_limit(boost::none);
    error_code ec;
    // One deadline for the headers and the body: a client that trickles either is cut off.
    stream.expires_after(settings.read_timeout);
    co_await http::async_read_header(stream, buffer, parser, token(ec));
    if (ec) {
      if (!stopped && answerable(ec)) {
        const std::string why = ec == http::error::header_limit
                                    ? "headers larger than 16 KiB"
                                    : "malformed request: " + ec.message();
        spdlog::debug("api: unparsed request from {}: {}", peer, ec.message());
        Outcome out;
        out.response = error_of(400, "bad_request", why);
        co_await write(stream, out, 11);
        co_return Next::linger;
      }
      co_return Next::close;
    }
    const auto begun = std::chrono::steady_clock::now();
    const auto& head = parser.get();
    ApiRequest req;
    req.method = head.method();
    req.target = std::string(head.target().substr(0, head.target().find('?')));
    Outcome out;
    out.path = req.target;
    out.keep_alive = head.keep_alive();
    req.who = tokens.empty() ? peer : authenticate(head);
    const std::string who = req.who;  // req goes to the handler
    const auto length = parser.content_length();
    if (who.empty()) {
      out.response = error_of(401, "unauthorized", "this API needs Authorization: Bearer TOKEN");
      out.challenge = true;
    } else if (length && *length > settings.max_body) {
      out.response = error_of(413, "body_too_large",
                              fmt::format("the body is larger than {} bytes", settings.max_body));
    } else {
      if (!parser.is_done()) {
        parser.body_limit(settings.max_body);  // a chunked body has no length to check first
        if (beast::iequals(head[http::field::expect], "100-continue")) {
          http::response<http::empty_body> go_on{http::status::continue_, head.version()};
          co_await http::async_write(stream, go_on, token(ec));
          if (ec) {
            co_return Next::close;
          }
        }
        co_await http::async_read(stream, buffer, parser, token(ec));
      }
      if (ec == http::error::body_limit) {
        out.response = error_of(413, "body_too_large",
                                fmt::format("the body is larger than {} bytes", settings.max_body));
      } else if (ec && answerable(ec)) {
        out.response = error_of(400, "bad_request", "malformed request: " + ec.message());
      } else if (ec || stopped) {
        co_return Next::close;
      } else {
        req.body = std::move(parser.get().body());
        const bool keep_alive = out.keep_alive;
        out = co_await dispatch(req, head.target());
        out.keep_alive = keep_alive;
      }
    }
    // A body left unread would be taken for the next request.
    out.keep_alive = out.keep_alive && parser.is_done() && !stopped;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - begun)
                        .count();
    spdlog::debug("api: {} {} {} who={} peer={} {} ms", head.method_string(), out.path,
                  out.response.status, who.empty() ? "-" : who, peer, ms);
    co_await write(stream, out, head.version());
    co_return out.keep_alive ? Next::serve : Next::linger;
  }

  // Closing a socket with unread bytes makes the kernel send a reset, which can destroy the
  // answer before the client reads it (a 413 sent while the body is still arriving): after
  // shutting down our side, read what the client still sends, for a bounded time and amount.
  template <class Stream>
  asio::awaitable<void> linger(Stream& stream) {
    constexpr std::size_t kMaxDrain = std::size_t{1} << 20;
    std::array<char, 4096> sink{};
    std::size_t drained = 0;
    error_code ec;
    stream.expires_after(settings.read_timeout);
    while (!ec && !stopped && drained < kMaxDrain) {
      drained += co_await stream.async_read_some(asio::buffer(sink),
                                                 asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  template <class Protocol>
  asio::awaitable<void> serve(std::shared_ptr<beast::basic_stream<Protocol>> stream,
                              std::uint64_t id, std::string peer) {
    auto self = shared_from_this();
    error_code ec;
    try {
      beast::flat_buffer buffer;
      Next next = Next::serve;
      while (!stopped && next == Next::serve) {
        next = co_await serve_one(*stream, buffer, peer);
      }
      stream->socket().shutdown(Protocol::socket::shutdown_send, ec);
      if (next == Next::linger) {
        co_await linger(*stream);
      }
    } catch (const std::exception& e) {
      // A failed write, or stop() cancelling a handler: the connection is over either way.
      spdlog::debug("api: connection from {} ended: {}", peer, e.what());
    }
    stream->close();
    connections.erase(id);
  }

  static std::string peer_of(const tcp::socket& s) {
    error_code ec;
    const auto ep = s.remote_endpoint(ec);
    return ec ? std::string("tcp:?") : format_endpoint(ep);
  }

  // The kernel's word on who connected: it cannot be forged by the peer.
  static std::string peer_of(local::socket& s) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(s.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      return "";
    }
    return fmt::format("unix:uid={}", cred.uid);
  }

  template <class Acceptor>
  asio::awaitable<void> accept_loop(Acceptor& acceptor) {
    using Protocol = typename Acceptor::protocol_type;
    auto self = shared_from_this();
    asio::steady_timer backoff(executor);
    for (;;) {
      error_code ec;
      typename Protocol::socket socket =
          co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (stopped || ec == asio::error::operation_aborted) {
        co_return;
      }
      if (ec) {
        spdlog::warn("api: accept: {}", ec.message());
        backoff.expires_after(kAcceptBackoff);
        co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      std::string peer = peer_of(socket);
      if (connections.size() >= settings.max_connections || peer.empty()) {
        socket.close(ec);
        continue;
      }
      auto stream = std::make_shared<beast::basic_stream<Protocol>>(std::move(socket));
      auto conn = std::make_shared<Connection>();
      conn->close = [stream] {
        error_code ignored;
        stream->socket().close(ignored);
      };
      const std::uint64_t id = next_connection++;
      connections.emplace(id, conn);
      asio::co_spawn(
          executor,
          [self, stream, id, peer = std::move(peer), conn]() mutable {
            return self->serve(stream, id, std::move(peer));
          },
          asio::bind_cancellation_slot(conn->cancel.slot(), asio::detached));
    }
  }

  Result<void> listen_unix(const std::string& path) {
    if (auto cleared = clear_stale_socket(path); !cleared) {
      return cleared;
    }
    auto& a = unix_acceptor.emplace(executor);
    error_code ec;
    a.open(local(), ec);
    if (!ec) {
      a.bind(local::endpoint(path), ec);
    }
    const auto fail = [&](const std::string& what) -> Result<void> {
      a.close(ec);
      return make_error(ErrorKind::io, "--api-listen",
                        "cannot listen on unix:" + path + ": " + what);
    };
    if (ec) {
      return fail(ec.message());
    }
    // Before listen(): until then a connect is refused, so no peer ever sees a wider mode.
    struct stat st {};
    if (::chmod(path.c_str(), 0660) != 0 || ::stat(path.c_str(), &st) != 0) {
      const std::string why = errno_text(errno);
      ::unlink(path.c_str());
      return fail(why);
    }
    a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      ::unlink(path.c_str());
      return fail(ec.message());
    }
    socket_path = path;
    socket_dev = st.st_dev;
    socket_ino = st.st_ino;
    return {};
  }

  Result<void> listen_tcp(const tcp::endpoint& endpoint) {
    auto& a = tcp_acceptor.emplace(executor);
    error_code ec;
    a.open(endpoint.protocol(), ec);
    if (!ec) {
      a.set_option(tcp::acceptor::reuse_address(true), ec);
    }
    if (!ec) {
      a.bind(endpoint, ec);
    }
    if (!ec) {
      a.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      a.close(ec);
      return make_error(ErrorKind::io, "--api-listen",
                        "cannot listen on " + settings.listen + ": " + ec.message());
    }
    return {};
  }

  // Only the file this server made: a successor may already have its own socket there.
  void remove_socket_file() const {
    struct stat st {};
    if (!socket_path.empty() && ::lstat(socket_path.c_str(), &st) == 0 && st.st_dev == socket_dev &&
        st.st_ino == socket_ino) {
      ::unlink(socket_path.c_str());
    }
  }
};

ApiServer::ApiServer(asio::any_io_executor ex, ApiSettings settings)
    : state_(std::make_shared<State>(std::move(ex), std::move(settings))) {}

ApiServer::~ApiServer() {
  stop();
}

void ApiServer::add(http::verb method, std::string pattern, ApiHandler handler) {
  auto segments = split_pattern(pattern);
  for (auto& r : state_->routes) {
    if (r.method == method && r.segments == segments) {
      r.handler = std::move(handler);
      return;
    }
  }
  state_->routes.push_back(
      State::Route{method, std::move(pattern), std::move(segments), std::move(handler)});
}

Result<void> ApiServer::start() {
  auto& s = *state_;
  if (s.started || s.stopped) {
    return make_error("--api-listen", "the API server was started before");
  }
  auto spec = parse_listen(s.settings);
  if (!spec) {
    return spec.error();
  }
  if (!s.settings.token_file.empty()) {
    auto tokens = read_token_file(s.settings.token_file, "--api-token-file");
    if (!tokens) {
      return tokens.error();
    }
    s.tokens = std::move(*tokens);
  }
  auto listening = spec->unix_path ? s.listen_unix(*spec->unix_path) : s.listen_tcp(spec->endpoint);
  if (!listening) {
    return listening;
  }
  s.started = true;
  if (s.unix_acceptor) {
    s.address = "unix:" + s.socket_path;
    asio::co_spawn(
        s.executor, [st = state_]() { return st->accept_loop(*st->unix_acceptor); },
        asio::detached);
  } else {
    error_code ec;
    s.address = format_endpoint(s.tcp_acceptor->local_endpoint(ec));
    asio::co_spawn(
        s.executor, [st = state_]() { return st->accept_loop(*st->tcp_acceptor); }, asio::detached);
  }
  return {};
}

void ApiServer::stop() {
  if (!state_ || state_->stopped) {
    return;
  }
  auto& s = *state_;
  s.stopped = true;
  error_code ec;
  if (s.tcp_acceptor) {
    s.tcp_acceptor->close(ec);
  }
  if (s.unix_acceptor) {
    s.unix_acceptor->close(ec);
  }
  s.remove_socket_file();
  auto open = std::move(s.connections);
  s.connections.clear();
  for (const auto& [id, conn] : open) {
    conn->close();
    conn->cancel.emit(asio::cancellation_type::terminal);
  }
  // Called from outside the loop, an emit reaches the coroutine through a handler that co_spawn
  // posts to the executor, and that handler still uses the signal, which a connection ending
  // meanwhile would free: the signals live until the loop has run it.
  asio::post(s.executor, [open = std::move(open)] {});
}

std::string ApiServer::local_address() const {
  return state_->address;
}

}  // namespace galaxy::lifecycle
