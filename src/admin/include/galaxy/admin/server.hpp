// The daemon's admin HTTP listener (/metrics, /livez, /readyz, /): Beast on the daemon's own
// io_context, with a registry of handlers by path (as Envoy's admin has), so each component adds
// its own endpoint without the server knowing it.
//
// Bounded: each request must arrive within request_timeout and be at most max_request_bytes
// (headers included; these endpoints take no body), at most max_connections are served at once
// (more are closed at accept), and an idle keep-alive connection is closed after idle_timeout.
// Only GET and HEAD; other methods get 405, unknown paths 404.
//
// Not thread-safe: everything runs on the executor given to the constructor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "galaxy/common/result.hpp"

namespace galaxy::admin {

struct AdminSettings {
  // HOST:PORT; loopback by default. Port 7464 is outside the 9100-9999 range the Prometheus
  // exporter registry hands out, so it does not collide with node_exporter and friends.
  std::string listen = "127.0.0.1:7464";
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::size_t max_request_bytes = std::size_t{16} * 1024;
  std::size_t max_connections = 64;
};

struct Request {
  std::string method;                        // "GET" or "HEAD"
  std::string path;                          // "/readyz"
  std::map<std::string, std::string> query;  // "?verbose" -> {"verbose", ""}
  bool has(const std::string& key) const { return query.contains(key); }
};

struct Response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using Handler = std::function<Response(const Request&)>;

class AdminServer {
 public:
  AdminServer(boost::asio::any_io_executor executor, AdminSettings settings);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Registers a handler (before or after start); a later one for the same path replaces it.
  // `description` is listed on "/".
  void add(const std::string& path, const std::string& description, Handler handler);

  // Binds and starts accepting. Error{invalid} for a bad address, Error{io} when the bind fails
  // (in use, not permitted), naming the address.
  Result<void> start();
  // Stops accepting and closes every connection. Idempotent.
  void stop();

  // The bound endpoint (port 0 in the settings picks a free one), once started.
  boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace galaxy::admin
