// error_codes for the Docker client's socket-level outcomes, next to Asio's own (timed_out,
// operation_aborted, eof, connection_refused, ...).
#pragma once

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace galaxy::docker {

enum class errc {
  http_status = 1,          // the daemon answered with an unexpected HTTP status
  bad_response,             // not HTTP, or a body that does not parse
  unsupported_api_version,  // the daemon is older than kMinimumApiVersion
  stream_closed,            // the events stream ended (the daemon closed it or went away)
  body_too_large,           // a response body over DockerClientSettings::max_body_bytes
};

const boost::system::error_category& docker_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), docker_category()};
}

}  // namespace galaxy::docker

template <>
struct boost::system::is_error_code_enum<galaxy::docker::errc> : std::true_type {};
