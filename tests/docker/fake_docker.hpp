// An in-process Docker daemon stand-in on a unix socket in a temp dir, on the test's io_context.
// Each accepted connection has its request parsed and handed to the test's script, which writes
// whatever bytes it likes (so tests control chunk boundaries, garbage and silence).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace galaxy::docker::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Socket = asio::local::stream_protocol::socket;
using Request = http::request<http::string_body>;
inline constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

inline asio::awaitable<void> send(Socket& s, std::string_view bytes) {
  co_await asio::async_write(s, asio::buffer(bytes.data(), bytes.size()), kTok);
}

inline std::string response(unsigned status, std::string_view body,
                            std::string_view extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
         std::string(extra_headers) + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

inline std::string chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

// Waits until the peer closes or the io_context stops: a server that never answers.
inline asio::awaitable<void> hang(Socket& s) {
  char byte = 0;
  co_await s.async_read_some(asio::buffer(&byte, 1), kTok);
}

class FakeDocker {
 public:
  using Script = std::function<asio::awaitable<void>(Socket&, const Request&)>;

  explicit FakeDocker(asio::io_context& io) : io_(io) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "galaxy-docker-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    path_ = dir_ + "/docker.sock";
    acceptor_ = std::make_unique<asio::local::stream_protocol::acceptor>(
        io, asio::local::stream_protocol::endpoint(path_));
    asio::co_spawn(io, accept_loop(), asio::detached);
  }
  ~FakeDocker() {
    boost::system::error_code ec;
    acceptor_->close(ec);
    std::filesystem::remove_all(dir_, ec);
  }
  FakeDocker(const FakeDocker&) = delete;
  FakeDocker& operator=(const FakeDocker&) = delete;

  std::string host() const { return "unix://" + path_; }

  // Answers GET /_ping itself with this Api-Version; everything else goes to the script.
  std::string api_version = "1.41";
  bool answer_ping = true;  // false: /_ping goes to the script too
  Script script = [](Socket& s, const Request&) -> asio::awaitable<void> {
    co_await send(s, response(500, R"({"message":"no script"})"));
  };
  // A script that answers every request alike.
  void answer(unsigned status, std::string body) {
    script = [status, body = std::move(body)](Socket& s, const Request&) -> asio::awaitable<void> {
      co_await send(s, response(status, body));
    };
  }

  std::vector<std::string> targets;  // every request target, in arrival order
  std::vector<Request> requests;

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_->async_accept(kTok);
      if (ec) {
        co_return;
      }
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(Socket socket) {
    boost::beast::flat_buffer buffer;
    Request req;
    auto [ec, n] = co_await http::async_read(socket, buffer, req, kTok);
    if (ec) {
      co_return;
    }
    targets.emplace_back(req.target());
    requests.push_back(req);
    if (answer_ping && req.target() == "/_ping") {
      co_await send(socket, response(200, "OK", "Api-Version: " + api_version + "\r\n"));
    } else {
      co_await script(socket, req);
    }
    boost::system::error_code ignored;
    socket.shutdown(Socket::shutdown_both, ignored);
  }

  asio::io_context& io_;
  std::string dir_;
  std::string path_;
  std::unique_ptr<asio::local::stream_protocol::acceptor> acceptor_;
};

// Runs one coroutine on io to completion (the fake server keeps running alongside) and returns
// its value.
template <class T>
T run(asio::io_context& io, asio::awaitable<T> op) {
  std::optional<T> out;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T v) {
    error = e;
    out = std::move(v);
    io.stop();
  });
  io.restart();
  io.run();
  if (error) {
    std::rethrow_exception(error);
  }
  return std::move(*out);
}

}  // namespace galaxy::docker::testing
