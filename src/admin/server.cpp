#include "galaxy/admin/server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <set>

#include "galaxy/common/listen_address.hpp"

namespace galaxy::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct AdminServer::State : std::enable_shared_from_this<AdminServer::State> {
  State(asio::any_io_executor ex, AdminSettings s)
      : executor(std::move(ex)), settings(std::move(s)), acceptor(executor) {}

  struct Route {
    std::string description;
    Handler handler;
  };

  asio::any_io_executor executor;
  AdminSettings settings;
  tcp::acceptor acceptor;
  std::map<std::string, Route> routes;
  std::set<std::shared_ptr<beast::tcp_stream>> sessions;
  bool stopped = false;

  Response index() const {
    Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = "<!doctype html><title>runtime-manager</title><h1>runtime-manager</h1><ul>";
    for (const auto& [path, route] : routes) {
      if (path != "/") {
        r.body += fmt::format("<li><a href=\"{0}\">{0}</a>: {1}</li>", path, route.description);
      }
    }
    r.body += "</ul>\n";
    return r;
  }

  Response dispatch(const Request& req) const {
    if (req.method != "GET" && req.method != "HEAD") {
      return {405, "text/plain; charset=utf-8", "only GET and HEAD\n"};
    }
    if (const auto it = routes.find(req.path); it != routes.end()) {
      return it->second.handler(req);
    }
    if (req.path == "/") {
      return index();
    }
    return {404, "text/plain; charset=utf-8", "no such endpoint; see /\n"};
  }

  static Request to_request(const http::request<http::empty_body>& msg) {
    Request req;
    req.method = std::string(msg.method_string());
    const auto target = boost::urls::parse_origin_form(msg.target());
    if (!target) {
      req.path = std::string(msg.target());
      return req;
    }
    req.path = std::string(target->path());
    for (const auto& p : target->params()) {
      req.query[std::string(p.key)] = p.has_value ? std::string(p.value) : std::string();
    }
    return req;
  }

  asio::awaitable<void> serve(std::shared_ptr<beast::tcp_stream> stream) {
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    for (bool first = true;; first = false) {
      http::request_parser<http::empty_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(settings.max_request_bytes));
      parser.body_limit(0);
      stream->expires_after(first ? settings.request_timeout : settings.idle_timeout);
      co_await http::async_read(*stream, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        break;  // closed, timed out, or a request we will not parse: nothing to answer
      }
      const auto& msg = parser.get();
      Response res = dispatch(to_request(msg));
      http::response<http::string_body> out{static_cast<http::status>(res.status), msg.version()};
      out.set(http::field::server, "runtime-manager");
      out.set(http::field::content_type, res.content_type);
      out.set(http::field::cache_control, "no-store");
      out.keep_alive(msg.keep_alive());
      if (msg.method() == http::verb::head) {
        out.content_length(res.body.size());
      } else {
        out.body() = std::move(res.body);
        out.prepare_payload();
      }
      stream->expires_after(settings.request_timeout);
      co_await http::async_write(*stream, out, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !out.keep_alive()) {
        break;
      }
    }
    stream->socket().shutdown(tcp::socket::shutdown_send, ec);
    stream->close();
    sessions.erase(stream);
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (stopped || ec == asio::error::operation_aborted) {
          co_return;
        }
        // EMFILE and friends: log and go on; the next accept may succeed.
        spdlog::warn("admin: accept: {}", ec.message());
        continue;
      }
      if (sessions.size() >= settings.max_connections) {
        socket.close(ec);
        continue;
      }
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      sessions.insert(stream);
      asio::co_spawn(
          executor, [self, stream]() { return self->serve(stream); }, asio::detached);
    }
  }
};

AdminServer::AdminServer(asio::any_io_executor executor, AdminSettings settings)
    : state_(std::make_shared<State>(std::move(executor), std::move(settings))) {}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::add(const std::string& path, const std::string& description, Handler handler) {
  state_->routes[path] = State::Route{description, std::move(handler)};
}

Result<void> AdminServer::start() {
  auto endpoint = parse_listen_address(state_->settings.listen);
  if (!endpoint) {
    return make_error("--admin-listen" + endpoint.error().path,
                      endpoint.error().reason + " (got '" + state_->settings.listen + "')");
  }
  auto& a = state_->acceptor;
  boost::system::error_code ec;
  a.open(endpoint->protocol(), ec);
  if (!ec) {
    a.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    a.bind(*endpoint, ec);
  }
  if (!ec) {
    a.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    a.close();
    return make_error(ErrorKind::io, "--admin-listen",
                      "cannot listen on " + state_->settings.listen + ": " + ec.message());
  }
  asio::co_spawn(state_->executor, state_->accept_loop(), asio::detached);
  return {};
}

void AdminServer::stop() {
  if (!state_ || state_->stopped) {
    return;
  }
  state_->stopped = true;
  boost::system::error_code ec;
  state_->acceptor.close(ec);
  for (const auto& s : state_->sessions) {
    s->socket().close(ec);
  }
}

tcp::endpoint AdminServer::local_endpoint() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

}  // namespace galaxy::admin
