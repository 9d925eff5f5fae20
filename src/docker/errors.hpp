// error_codes for the client's own transport outcomes, beside Asio's (timed_out, eof,
// connection_refused, ...). Internal: the DockerApi turns them into Errors with a kind.
#pragma once

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace galaxy::docker {

enum class errc {
  bad_response = 1,  // not HTTP, or HTTP that does not parse
  body_too_large,    // a response body over DockerClientSettings::max_body_bytes
};

const boost::system::error_category& docker_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), docker_category()};
}

}  // namespace galaxy::docker

template <>
struct boost::system::is_error_code_enum<galaxy::docker::errc> : std::true_type {};
