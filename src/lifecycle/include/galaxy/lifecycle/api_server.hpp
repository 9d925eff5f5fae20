// The lifecycle API's HTTP/1.1 listener: JSON in and out, on the daemon's own io_context, with a
// registry of handlers by method and path pattern ("/v1/engines/{game_id}/stop"), so the engine
// manager adds its routes without the server knowing them.
//
// It is the daemon's most powerful surface (whoever may call it may run containers), so:
//   - it listens on a unix socket (mode 0660) by default; TCP only on loopback unless
//     allow_remote, and TCP only with a token file;
//   - with a token file every request, on either transport, needs "Authorization: Bearer TOKEN";
//     tokens are compared in constant time, and `who` is the token's name, for the audit log;
//     without one (unix socket only) `who` is the peer's uid, from the kernel (SO_PEERCRED);
//   - a request's headers and body must arrive within read_timeout (an idle keep-alive
//     connection gets the same bound for its next request, and a response the same to be
//     written), headers are at most 16 KiB, a body at most max_body (413 from Content-Length
//     before reading it, or when a chunked body passes it), at most max_connections at once.
// Errors are the API's JSON errors (api_error.hpp): 400 bad_request, 401 unauthorized, 404
// not_found, 405 method_not_allowed (with Allow), 413 body_too_large, 500 internal for a handler
// that throws (logged; the server goes on). Each request is logged at debug level.
//
// Not thread-safe: everything runs on the executor given to the constructor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "galaxy/common/result.hpp"
#include "galaxy/lifecycle/api_error.hpp"

namespace galaxy::lifecycle {

struct ApiSettings {
  std::string listen;         // "unix:/path/api.sock" or "HOST:PORT"
  bool allow_remote = false;  // else a non-loopback HOST is refused at start
  std::string token_file;     // "" none; required when listening on TCP
  std::size_t max_body = std::size_t{64} * 1024;
  std::chrono::milliseconds read_timeout{10'000};  // headers+body of one request
  // More are closed at accept. Game Master may start a hundred engines at once, each request
  // held open until Docker has started its container.
  std::size_t max_connections = 512;
};

struct ApiRequest {
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  std::string target;                         // path without query, percent-decoded
  std::map<std::string, std::string> params;  // "/v1/engines/{game_id}" -> params["game_id"]
  std::map<std::string, std::string> query;   // "?force&t=3" -> {"force", ""}, {"t", "3"}
  std::string body;
  std::string who;  // the token's name, or "unix:uid=N" for a local peer without a token file
};

struct ApiResponse {
  unsigned status = 200;
  std::string body;  // JSON
};

// The response for an error: its status and error_json.
ApiResponse error_response(const ApiError& e);

using ApiHandler = std::function<boost::asio::awaitable<ApiResponse>(ApiRequest)>;

class ApiServer {
 public:
  ApiServer(boost::asio::any_io_executor ex, ApiSettings settings);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Registers a handler (before or after start); a later one for the same method and pattern
  // replaces it. A pattern's segments are literals or "{name}" captures; a capture matches one
  // non-empty segment (percent-decoded, so "a%2Fb" is the one value "a/b").
  void add(boost::beast::http::verb method, std::string pattern, ApiHandler handler);

  // Reads the token file, binds and listens. Error{invalid} for a bad --api-listen (also a
  // non-loopback HOST without allow_remote), a missing token file on TCP, or a token file that
  // is unreadable, malformed or open to group or others (chmod 600, as ssh asks of its keys);
  // Error{io} when the bind fails (in use, not permitted, a live server on the socket path).
  // A unix socket path left by a dead server is replaced; any other file there is not.
  Result<void> start();
  // Stops accepting, closes every connection and cancels the handlers in flight (through their
  // coroutines' cancellation: they see operation_aborted); removes the socket file it made.
  // Idempotent.
  void stop();

  // "unix:/path" or "127.0.0.1:PORT" ("[::1]:PORT"), once started; port 0 picks one.
  std::string local_address() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace galaxy::lifecycle
