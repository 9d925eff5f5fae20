// The client side of the daemon's engines API (runtime-manager serve): HTTP/1.1 with JSON bodies
// over a unix socket or plain TCP, one request per connection, every step under a deadline. A CLI
// makes one call and exits, so this is synchronous and keeps no connection. No TLS: the API is
// meant for a local socket, or a port reached through something that already secures it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "galaxy/common/result.hpp"

namespace galaxy::cli {

inline constexpr std::string_view kDefaultApiUrl = "unix:/var/lib/galaxy-runtime-manager/api.sock";

struct ApiAddress {
  std::string socket_path;  // unix:PATH; empty for http://
  std::string host;         // http://HOST:PORT (brackets of an IPv6 literal removed)
  std::string port;
  std::string url;  // as the operator wrote it: messages name the address they tried
  bool is_unix() const { return !socket_path.empty(); }
};

// "unix:/absolute/path" (also "unix:///absolute/path") or "http://HOST:PORT" with an optional
// trailing '/'. Anything else (https, a path, user info, no port) is an error for --api. Pure.
Result<ApiAddress> parse_api_url(std::string_view url);

// The token in the text of a token file: the first line that is neither blank nor a comment (its
// first non-blank character '#'), and of that line the last whitespace-separated word, so both
// "TOKEN" and "NAME TOKEN" work. An error when no line holds one. Pure.
Result<std::string> parse_token(std::string_view text);

// parse_token on a file's contents; errors name the file (which cannot be read, or holds none).
Result<std::string> read_token_file(const std::string& path);

struct ApiRequest {
  std::string method;  // GET, POST, DELETE
  std::string target;  // the path, percent-encoded ("/v1/engines/g%2F1/stop")
  std::string body;    // JSON; empty: no body (and no Content-Type)
  bool operator==(const ApiRequest&) const = default;
};

struct ApiResponse {
  unsigned status = 0;
  std::string body;
};

struct ApiTimeouts {
  std::chrono::milliseconds connect{5000};    // connecting (and resolving the host) alone
  std::chrono::milliseconds request{120000};  // the whole exchange, connecting included
};

// Answers larger than this are refused: a list of thousands of records fits many times over.
inline constexpr std::size_t kMaxApiResponseBytes = std::size_t{32} * 1024 * 1024;

// Sends one request and reads the answer, whatever its status: the caller decides what a 4xx
// means. With a non-empty token the request carries "Authorization: Bearer <token>", else no
// Authorization header at all. Errors (their path is the address as written): io (no socket at
// the path, refused, unreachable, DNS), timeout (a deadline passed; the reason says which),
// closed (the connection ended before a whole answer), protocol (not HTTP, or too large).
Result<ApiResponse> send_request(const ApiAddress& address, const ApiRequest& request,
                                 const std::string& token, const ApiTimeouts& timeouts);

// What a 4xx or 5xx said, from the API's {"error": {"code", "message", "field"}}.
struct ApiError {
  unsigned status = 0;
  std::string code;
  std::string message;
  std::string field;  // empty when the error is not about one field
  bool operator==(const ApiError&) const = default;
};

// The error document of an answer with `status`. A body of any other shape (a proxy's page, an
// empty body) still gives an error: code "http_<status>" and, as the message, the start of the
// body on one line or the status's reason phrase. Pure.
ApiError parse_api_error(unsigned status, std::string_view body);

}  // namespace galaxy::cli
