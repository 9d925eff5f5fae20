#include "galaxy/web/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <thread>
#include <utility>

#include "assets.hpp"
#include "galaxy/common/backoff.hpp"
#include "galaxy/common/listen_address.hpp"
#include "galaxy/common/offload.hpp"
#include "galaxy/common/random.hpp"
#include "galaxy/common/redact.hpp"
#include "galaxy/common/tokens.hpp"
#include "galaxy/web/state.hpp"

namespace galaxy::web {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::uint32_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kWriteBatch = std::size_t{64} * 1024;
constexpr std::size_t kReadCount = 500;  // entries per XREAD / XRANGE
constexpr std::string_view kCookie = "galaxy_web_token";
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
constexpr auto kReadyPoll = std::chrono::milliseconds(100);

constexpr std::string_view kPageCsp =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

using Request = http::request<http::empty_body>;
using Response = http::response<http::string_body>;

void secure_headers(Response& res) {
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  // A ?token= link must not leak through Referer.
  res.set("Referrer-Policy", "no-referrer");
  res.set(http::field::server, "galaxy-health-web");
}

Response json_response(const Request& req, http::status status, const boost::json::value& body) {
  Response res{status, req.version()};
  secure_headers(res);
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = boost::json::serialize(body);
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

Response error_response(const Request& req, http::status status, std::string_view code,
                        std::string_view message) {
  return json_response(
      req, status,
      boost::json::object{{"error", boost::json::object{{"code", code}, {"message", message}}}});
}

std::string_view content_type_of(std::string_view path) {
  if (path.ends_with(".html")) {
    return "text/html; charset=utf-8";
  }
  if (path.ends_with(".js")) {
    return "text/javascript; charset=utf-8";
  }
  return "text/css; charset=utf-8";
}

std::optional<std::string> query_param(const boost::urls::url_view& url, std::string_view key) {
  for (auto p : url.params()) {
    if (p.key == key) {
      return std::string(p.value);
    }
  }
  return std::nullopt;
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    const auto start = part.find_first_not_of(' ');
    if (start == std::string_view::npos) {
      continue;
    }
    part.remove_prefix(start);
    if (part.size() > name.size() && part.starts_with(name) && part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
  }
  return std::nullopt;
}

std::string status_frame(bool up, const std::string& reason) {
  return "event: status\ndata: " +
         boost::json::serialize(
             boost::json::object{{"redis", up ? "up" : "down"}, {"reason", reason}}) +
         "\n\n";
}

}  // namespace

struct WebServer::Impl {
  Impl(const asio::any_io_executor& ex, WebSettings s, std::unique_ptr<StreamSource> reader,
       std::unique_ptr<StreamSource> catch_up, std::unique_ptr<SnapshotSource> snaps)
      : executor(ex),
        settings(std::move(s)),
        acceptor(ex),
        hub(settings.hub),
        reader_source(std::move(reader)),
        catch_up_source(std::move(catch_up)),
        snapshots(std::move(snaps)) {}

  ~Impl() { stop_reader(); }

  asio::any_io_executor executor;
  WebSettings settings;
  std::vector<Token> tokens;
  tcp::acceptor acceptor;
  EventHub hub;
  std::unique_ptr<StreamSource> reader_source;
  std::unique_ptr<StreamSource> catch_up_source;
  std::unique_ptr<SnapshotSource> snapshots;
  // One thread each: a connection per backend, used by one thread at a time.
  asio::thread_pool db_thread{1};
  asio::thread_pool catch_up_thread{1};
  std::thread reader;
  std::mutex reader_mutex;
  std::condition_variable reader_cv;
  bool reader_stop = false;

  bool stopping = false;
  bool redis_up = false;
  std::size_t connections = 0;
  std::size_t event_streams = 0;
  std::set<beast::tcp_stream*> streams;  // to close on stop
  std::set<SubscriberPtr> live;          // event streams, to wake on stop

  std::optional<std::string> games_cache;
  std::chrono::steady_clock::time_point games_cached_at;

  void start_reader();
  void stop_reader();
  void reader_loop();
  bool reader_sleep(std::chrono::milliseconds d);

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(beast::tcp_stream stream);
  std::optional<Response> authenticate(const Request& req, const boost::urls::url_view& url) const;
  asio::awaitable<Response> handle(const Request& req, const boost::urls::url_view& url);
  asio::awaitable<Response> games(const Request& req);
  asio::awaitable<Response> hosts(const Request& req);
  Response healthz(const Request& req) const;
  // Writes the event stream until the client goes, the server stops or the client overflows.
  asio::awaitable<void> events(beast::tcp_stream& stream, const Request& req,
                               const boost::urls::url_view& url);
  asio::awaitable<bool> write_all(beast::tcp_stream& stream, const std::string& text);
  // Backend errors reach pages and logs only through this: the layers below redact their
  // endpoints, and this scrubs the passwords themselves in case a library repeated one.
  std::string clean(const std::string& message) const { return scrub(message, settings.secrets); }
};

// --- the stream reader -------------------------------------------------------------------------

void WebServer::Impl::start_reader() {
  reader = std::thread([this] { reader_loop(); });
}

void WebServer::Impl::stop_reader() {
  {
    const std::lock_guard lock(reader_mutex);
    reader_stop = true;
  }
  reader_cv.notify_all();
  if (reader.joinable()) {
    reader.join();  // within one XREAD BLOCK plus its deadline
  }
}

bool WebServer::Impl::reader_sleep(std::chrono::milliseconds d) {
  std::unique_lock lock(reader_mutex);
  return !reader_cv.wait_for(lock, d, [this] { return reader_stop; });
}

// On a thread of its own: the blocking XREAD never holds up the loop. Everything it learns goes
// to the loop by post, in order.
void WebServer::Impl::reader_loop() {
  auto backoff = ExponentialBackoff::with_equal_jitter(settings.retry_min, settings.retry_max,
                                                       seeded_unit_random(random_seed()));
  bool filled = false;
  std::optional<bool> reported_up;
  std::string last = "0-0";
  for (;;) {
    {
      const std::lock_guard lock(reader_mutex);
      if (reader_stop) {
        return;
      }
    }
    auto frames = filled ? reader_source->read_after(last, kReadCount, settings.block)
                         : reader_source->latest(settings.hub.ring);
    if (!frames) {
      const std::string reason = clean(frames.error().message());
      if (reported_up.value_or(true)) {
        spdlog::warn("web: cannot read the stream: {}", reason);
        asio::post(executor, [this, reason] {
          redis_up = false;
          hub.broadcast(status_frame(false, reason));
        });
        reported_up = false;
      }
      if (!reader_sleep(backoff.next())) {
        return;
      }
      continue;
    }
    backoff.reset();
    const bool first = !filled;
    filled = true;
    if (!frames->empty()) {
      last = frames->back().id;
    }
    const bool recovered = !reported_up.value_or(false);
    reported_up = true;
    asio::post(executor, [this, f = std::move(*frames), first, recovered]() mutable {
      if (recovered) {
        redis_up = true;
        hub.broadcast(status_frame(true, ""));
      }
      hub.publish(std::move(f));
      if (first) {
        hub.set_ready();
      }
    });
  }
}

// --- connections -------------------------------------------------------------------------------

asio::awaitable<void> WebServer::Impl::accept_loop() {
  while (!stopping) {
    error_code ec;
    tcp::socket socket(executor);
    co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (stopping) {
      break;
    }
    if (ec) {
      // EMFILE and friends fail again at once; a pause lets descriptors free up.
      spdlog::warn("web: accept failed: {}", ec.message());
      asio::steady_timer pause(executor, kAcceptBackoff);
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (connections >= settings.max_connections) {
      socket.close(ec);  // refused without a word: the client retries
      continue;
    }
    asio::co_spawn(executor, session(beast::tcp_stream(std::move(socket))), asio::detached);
  }
}

std::optional<Response> WebServer::Impl::authenticate(const Request& req,
                                                      const boost::urls::url_view& url) const {
  if (tokens.empty()) {
    return std::nullopt;
  }
  std::optional<std::string> presented;
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    const std::string_view v = it->value();
    if (v.starts_with("Bearer ")) {
      presented = std::string(v.substr(7));
    }
  }
  if (!presented) {
    if (auto it = req.find(http::field::cookie); it != req.end()) {
      presented = cookie_value(it->value(), kCookie);
    }
  }
  if (presented && match_token(tokens, *presented)) {
    return std::nullopt;
  }
  // A link with ?token= (how an operator shares the page) becomes a cookie, and the token leaves
  // the address bar and the history at once.
  if (auto link = query_param(url, "token"); link && match_token(tokens, *link)) {
    boost::urls::url without(url);
    without.params().erase("token");
    Response res{http::status::see_other, req.version()};
    secure_headers(res);
    res.set(http::field::location, without.buffer().empty() ? "/" : std::string(without.buffer()));
    res.set(http::field::set_cookie,
            std::string(kCookie) + "=" + *link + "; Path=/; HttpOnly; SameSite=Strict");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
  }
  auto res = error_response(req, http::status::unauthorized, "unauthorized",
                            "a bearer token (or the cookie a ?token= link sets) is required");
  res.set(http::field::www_authenticate, "Bearer");
  return res;
}

asio::awaitable<void> WebServer::Impl::session(beast::tcp_stream stream) {
  ++connections;
  streams.insert(&stream);
  beast::flat_buffer buffer;
  for (;;) {
    error_code ec;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kHeaderLimit);
    stream.expires_after(settings.idle_timeout);
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopping) {
      if (ec == http::error::unexpected_body || ec == http::error::header_limit) {
        Request bare;
        auto res = error_response(bare, http::status::bad_request, "bad_request",
                                  ec == http::error::unexpected_body
                                      ? "requests here carry no body"
                                      : "the request header is over 16 KiB");
        res.keep_alive(false);
        stream.expires_after(settings.write_timeout);
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      }
      break;
    }
    const Request& req = parser.get();
    auto url = boost::urls::parse_origin_form(req.target());
    if (!url) {
      auto res = error_response(req, http::status::bad_request, "bad_request",
                                "the request target is not a path and query");
      stream.expires_after(settings.write_timeout);
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      break;
    }
    if (req.method() == http::verb::get && url->path() == "/api/v1/events") {
      if (auto denied = authenticate(req, *url)) {
        stream.expires_after(settings.write_timeout);
        co_await http::async_write(stream, *denied, asio::redirect_error(asio::use_awaitable, ec));
        break;
      }
      co_await events(stream, req, *url);
      break;  // an event stream ends with its connection
    }
    Response res = co_await handle(req, *url);
    const bool keep = res.keep_alive() && !stopping;
    if (req.method() == http::verb::head) {
      // HEAD: the headers of GET, without the body.
      const auto length = res.body().size();
      res.body().clear();
      res.content_length(length);
    }
    stream.expires_after(settings.write_timeout);
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep) {
      break;
    }
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  streams.erase(&stream);
  --connections;
}

asio::awaitable<Response> WebServer::Impl::handle(const Request& req,
                                                  const boost::urls::url_view& url) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = error_response(req, http::status::method_not_allowed, "method_not_allowed",
                              "only GET and HEAD are served here");
    res.set(http::field::allow, "GET, HEAD");
    co_return res;
  }
  if (auto denied = authenticate(req, url)) {
    co_return *denied;
  }
  const std::string path(url.path());
  if (path == "/api/v1/games") {
    co_return co_await games(req);
  }
  if (path == "/api/v1/hosts") {
    co_return co_await hosts(req);
  }
  if (path == "/healthz") {
    co_return healthz(req);
  }
  const std::string asset_path = path == "/" ? "/index.html" : path;
  for (const auto& a : assets()) {
    if (a.path == asset_path) {
      Response res{http::status::ok, req.version()};
      secure_headers(res);
      res.set(http::field::content_type, content_type_of(a.path));
      res.set("Content-Security-Policy", kPageCsp);
      // The page changes with the binary only; no-cache still revalidates after an upgrade.
      res.set(http::field::cache_control, "no-cache");
      res.body() = std::string(a.body);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      co_return res;
    }
  }
  co_return error_response(req, http::status::not_found, "not_found", "no such page: " + path);
}

asio::awaitable<Response> WebServer::Impl::games(const Request& req) {
  const auto now = std::chrono::steady_clock::now();
  if (!games_cache || now - games_cached_at >= settings.games_cache) {
    auto work = [this] { return snapshots->games(); };
    auto rows = std::move(*co_await offload(db_thread, executor, work));
    if (!rows) {
      co_return error_response(req, http::status::service_unavailable, "unavailable",
                               "the database cannot be read: " + clean(rows.error().message()));
    }
    const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    games_cache = boost::json::serialize(boost::json::object{
        {"stream", settings.stream}, {"generated_at_ms", wall}, {"games", std::move(*rows)}});
    games_cached_at = now;
  }
  Response res{http::status::ok, req.version()};
  secure_headers(res);
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = *games_cache;
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  co_return res;
}

asio::awaitable<Response> WebServer::Impl::hosts(const Request& req) {
  auto work = [this] { return snapshots->hosts(); };
  auto rows = std::move(*co_await offload(db_thread, executor, work));
  if (!rows) {
    co_return error_response(req, http::status::service_unavailable, "unavailable",
                             "the database cannot be read: " + clean(rows.error().message()));
  }
  co_return json_response(req, http::status::ok, boost::json::object{{"hosts", std::move(*rows)}});
}

Response WebServer::Impl::healthz(const Request& req) const {
  return json_response(req, redis_up ? http::status::ok : http::status::service_unavailable,
                       boost::json::object{{"status", redis_up ? "ok" : "degraded"},
                                           {"redis", redis_up ? "up" : "down"},
                                           {"pages", event_streams}});
}

asio::awaitable<bool> WebServer::Impl::write_all(beast::tcp_stream& stream,
                                                 const std::string& text) {
  error_code ec;
  stream.expires_after(settings.write_timeout);
  co_await asio::async_write(stream, asio::buffer(text),
                             asio::redirect_error(asio::use_awaitable, ec));
  // No deadline between frames: an idle event stream lives on its heartbeats, and the last
  // write's deadline must not be left armed over the wait.
  stream.expires_never();
  co_return !ec;
}

asio::awaitable<void> WebServer::Impl::events(beast::tcp_stream& stream, const Request& req,
                                              const boost::urls::url_view& url) {
  error_code ec;
  const auto refuse = [&](http::status status, std::string_view code, std::string_view message) {
    auto res = error_response(req, status, code, message);
    res.keep_alive(false);
    return res;
  };
  // The header EventSource sends on its own reconnects wins over the query a page may add.
  std::optional<std::string> after = query_param(url, "last_event_id");
  if (auto it = req.find("Last-Event-ID"); it != req.end() && !it->value().empty()) {
    after = std::string(it->value());
  }
  std::size_t backlog = settings.default_backlog;
  if (auto b = query_param(url, "backlog")) {
    std::size_t n = 0;
    const auto r = std::from_chars(b->data(), b->data() + b->size(), n);
    if (r.ec != std::errc{} || r.ptr != b->data() + b->size() || n > settings.max_backlog) {
      auto res =
          refuse(http::status::bad_request, "bad_request",
                 "backlog: expected an integer from 0 to " + std::to_string(settings.max_backlog));
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      co_return;
    }
    backlog = n;
  }
  if (after && !valid_id(*after)) {
    auto res = refuse(http::status::bad_request, "bad_request",
                      "Last-Event-ID: not a stream entry id (MS-SEQ): " + after->substr(0, 64));
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    co_return;
  }
  if (event_streams >= settings.max_event_streams) {
    auto res =
        refuse(http::status::service_unavailable, "unavailable", "too many open event streams");
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    co_return;
  }

  ++event_streams;
  struct Count {
    std::size_t& n;
    ~Count() { --n; }
  } count{event_streams};

  // No length: the body is the stream, until the connection closes.
  http::response<http::empty_body> head{http::status::ok, req.version()};
  head.set(http::field::content_type, "text/event-stream");
  head.set(http::field::cache_control, "no-store");
  head.set("X-Content-Type-Options", "nosniff");
  head.set("X-Accel-Buffering", "no");  // a proxy in front must not hold frames back
  head.keep_alive(false);
  http::response_serializer<http::empty_body> serializer(head);
  stream.expires_after(settings.write_timeout);
  co_await http::async_write_header(stream, serializer,
                                    asio::redirect_error(asio::use_awaitable, ec));
  if (ec || !co_await write_all(stream, "retry: 1000\n\n")) {
    co_return;
  }
  if (!redis_up && !co_await write_all(stream, status_frame(false, "connecting to Redis"))) {
    co_return;
  }

  asio::steady_timer wake(executor);
  // A resume needs the ring filled to know what it misses, and a backlog is taken from it; the
  // answer is already 200 so the browser's EventSource keeps the connection meanwhile.
  while (!hub.ready() && !stopping) {
    wake.expires_after(kReadyPoll);
    co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (stopping) {
    co_return;
  }
  Subscription sub;
  if (after) {
    sub = hub.subscribe_after(*after);
  } else {
    sub.subscriber = hub.subscribe_fresh(backlog);
  }
  const SubscriberPtr s = sub.subscriber;
  live.insert(s);
  struct Leave {
    Impl& impl;
    SubscriberPtr s;
    ~Leave() {
      s->wake = nullptr;
      impl.hub.unsubscribe(s);
      impl.live.erase(s);
    }
  } leave{*this, s};
  s->wake = [&wake] { wake.cancel(); };

  // Entries the ring no longer holds, oldest first, before anything queued.
  if (sub.catch_up) {
    std::string from = sub.catch_up->after;
    const std::string before = sub.catch_up->before;
    for (;;) {
      auto work = [this, &from, &before] {
        return catch_up_source->range(from, before, kReadCount);
      };
      auto frames = std::move(*co_await offload(catch_up_thread, executor, work));
      if (!frames) {
        spdlog::warn("web: catch-up after {} failed: {}", from, clean(frames.error().message()));
        co_return;  // the page reconnects from what it got
      }
      if (frames->empty() || stopping || s->overflowed) {
        break;
      }
      std::string text;
      for (const auto& f : *frames) {
        text += f.text;
      }
      from = frames->back().id;
      if (!co_await write_all(stream, text)) {
        co_return;
      }
    }
  }

  for (;;) {
    if (stopping || s->overflowed) {
      if (s->overflowed) {
        spdlog::info("web: a page fell behind by more than {} bytes; closed so it resumes",
                     settings.hub.max_queue_bytes);
      }
      co_return;
    }
    if (s->queue.empty()) {
      wake.expires_after(settings.heartbeat);
      co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!ec && s->queue.empty() && !co_await write_all(stream, ": heartbeat\n\n")) {
        co_return;
      }
      continue;
    }
    std::string text;
    while (!s->queue.empty() && text.size() < kWriteBatch) {
      text += s->queue.front()->text;
      s->pop_front();
    }
    if (!co_await write_all(stream, text)) {
      co_return;
    }
  }
}

// --- the server --------------------------------------------------------------------------------

Result<std::unique_ptr<WebServer>> WebServer::open(const asio::any_io_executor& executor,
                                                   WebSettings settings,
                                                   std::unique_ptr<StreamSource> reader_source,
                                                   std::unique_ptr<StreamSource> catch_up_source,
                                                   std::unique_ptr<SnapshotSource> snapshots) {
  auto endpoint = parse_listen_address(settings.listen);
  if (!endpoint) {
    return make_error("--listen", "--listen " + settings.listen + ": " + endpoint.error().path +
                                      ": " + endpoint.error().reason);
  }
  std::vector<Token> tokens;
  if (!settings.token_file.empty()) {
    auto read = read_token_file(settings.token_file, "--token-file");
    if (!read) {
      return read.error();
    }
    tokens = std::move(*read);
  } else if (!endpoint->address().is_loopback()) {
    return make_error("--listen", "--listen " + settings.listen +
                                      " is not a loopback address: give --token-file so the "
                                      "page is not open to everyone who can reach it");
  }
  auto impl = std::make_unique<Impl>(executor, std::move(settings), std::move(reader_source),
                                     std::move(catch_up_source), std::move(snapshots));
  impl->tokens = std::move(tokens);
  error_code ec;
  impl->acceptor.open(endpoint->protocol(), ec);
  if (!ec) {
    impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    impl->acceptor.bind(*endpoint, ec);
  }
  if (!ec) {
    impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return make_error(ErrorKind::io, "--listen",
                      "cannot listen on " + impl->settings.listen + ": " + ec.message());
  }
  impl->start_reader();
  return std::unique_ptr<WebServer>(new WebServer(std::move(impl)));
}

WebServer::WebServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebServer::~WebServer() = default;

tcp::endpoint WebServer::local_endpoint() const {
  error_code ec;
  return impl_->acceptor.local_endpoint(ec);
}

asio::awaitable<void> WebServer::run() {
  co_await impl_->accept_loop();
  // Bounded: every connection was closed by stop(); their coroutines end at their next step.
  asio::steady_timer wait(impl_->executor);
  while (impl_->connections > 0) {
    wait.expires_after(std::chrono::milliseconds(10));
    error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void WebServer::stop() {
  auto& impl = *impl_;
  if (impl.stopping) {
    return;
  }
  impl.stopping = true;
  error_code ec;
  impl.acceptor.close(ec);
  for (auto* s : impl.streams) {
    s->socket().shutdown(tcp::socket::shutdown_both, ec);
    s->socket().cancel(ec);
  }
  for (const auto& s : impl.live) {
    if (s->wake) {
      s->wake();
    }
  }
}

WebStats WebServer::stats() const {
  return WebStats{impl_->connections, impl_->event_streams, impl_->hub.stats(), impl_->redis_up};
}

// --- the command ---------------------------------------------------------------------------------

int run_web(const WebRun& run, StopSignal& stop, std::ostream& out, std::ostream& err) {
  auto redis = parse_redis_url(run.redis_url);
  if (!redis) {
    err << "galaxy-health web: --redis-url: " << redis.error().reason << "\n";
    return 2;
  }
  if (run.postgres_url.empty()) {
    err << "galaxy-health web: --postgres-url (or GALAXY_POSTGRES_URL) is required\n";
    return 2;
  }
  pg::ConnectSettings pg_settings;
  pg_settings.connect_timeout = std::chrono::ceil<std::chrono::seconds>(run.connect_timeout);
  pg_settings.statement_timeout = run.command_timeout;
  pg_settings.application_name = "galaxy-health-web";
  auto target = pg::parse_target(run.postgres_url, pg_settings);
  if (!target) {
    err << "galaxy-health web: --postgres-url: " << target.error().reason << "\n";
    return 2;
  }
  WebSettings settings = run.settings;
  settings.secrets = {redis->password, target->password};
  const RedisSourceSettings rs{*redis, run.settings.stream, run.connect_timeout,
                               run.command_timeout};
  asio::io_context io(1);
  auto server = WebServer::open(io.get_executor(), std::move(settings), make_redis_source(rs),
                                make_redis_source(rs),
                                make_pg_source(PgSourceSettings{*target, run.command_timeout}));
  if (!server) {
    err << "galaxy-health web: " << server.error().reason << "\n";
    return server.error().kind == ErrorKind::invalid ? 2 : 1;
  }
  auto& web = **server;
  const auto at = web.local_endpoint();
  out << "galaxy-health web: serving http://" << at.address().to_string() << ":" << at.port()
      << "/ (stream " << run.settings.stream << ")\n"
      << std::flush;
  stop.on_request([&io, &web] { asio::post(io, [&web] { web.stop(); }); });
  asio::co_spawn(io, web.run(), asio::detached);
  io.run();
  stop.on_request(nullptr);
  return 0;
}

}  // namespace galaxy::web
