// Where a consumer finds Redis: redis://[user:password@]host[:port][/db] or unix:///path[?db=N].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "galaxy/common/result.hpp"

namespace galaxy::consumer {

struct RedisEndpoint {
  enum class Transport : std::uint8_t { tcp, unix_socket };
  Transport transport = Transport::tcp;
  std::string host;           // tcp only; IPv6 without brackets
  std::uint16_t port = 6379;  // tcp only
  std::string socket_path;    // unix_socket only
  std::string user;           // empty: AUTH with the password alone (the default user)
  std::string password;       // empty: no AUTH
  int db = 0;

  // The URL with any password replaced by "***": the only form that goes into logs and errors.
  std::string redacted() const;
  bool operator==(const RedisEndpoint&) const = default;
};

// Parses a Redis URL. Returns Error{"redis_url", reason}; the reason never repeats the input, so a
// malformed URL cannot leak its password into a log. Pure, thread-safe.
Result<RedisEndpoint> parse_redis_url(std::string_view url);

}  // namespace galaxy::consumer
