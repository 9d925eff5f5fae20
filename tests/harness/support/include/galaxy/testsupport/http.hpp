#pragma once
// One HTTP/1.1 request with a deadline, over TCP or a unix socket, for tests that talk to real
// servers (the fake engine, dockerd's /_ping). Built on Boost.Beast.
#include <boost/beast/http/verb.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace galaxy::testsupport {

struct HttpResponse {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

// What a request carries besides its line: a body (sent with Content-Type: application/json
// unless a header says otherwise) and headers.
struct HttpExtras {
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Errors: boost::beast::error::timeout at the deadline, http::error::end_of_stream when the server
// closes without answering, connection_refused, ...
boost::system::result<HttpResponse> http_request(std::string_view host, std::uint16_t port,
                                                 boost::beast::http::verb method,
                                                 std::string_view target,
                                                 std::chrono::milliseconds deadline,
                                                 const HttpExtras& extras = {});

boost::system::result<HttpResponse> http_request_unix(std::string_view socket_path,
                                                      boost::beast::http::verb method,
                                                      std::string_view target,
                                                      std::chrono::milliseconds deadline,
                                                      const HttpExtras& extras = {});

// The value of an environment variable the test needs; throws std::runtime_error naming it and
// saying how to get it (gtest reports that as the failure), so a missing service never skips.
std::string require_env(const char* name);

}  // namespace galaxy::testsupport
