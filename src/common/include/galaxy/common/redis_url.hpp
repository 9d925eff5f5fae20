// Where Redis is, from a --redis-url or a consumer's options, and how to name it in logs and errors
// without showing the password. The daemon's sink and the consumer SDK share this one parser so
// both accept exactly the same URLs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "galaxy/common/result.hpp"

namespace galaxy {

// redis://[user:password@]host[:port][/db]  or  unix://[user:password@]/path/to/redis.sock[?db=N]
struct RedisEndpoint {
  enum class Transport : std::uint8_t { tcp, unix_socket };
  Transport transport = Transport::tcp;
  std::string host{};         // tcp only; IPv6 without brackets
  std::uint16_t port = 6379;  // tcp only
  std::string socket_path{};  // unix_socket only
  std::string user{};         // empty: AUTH with the password alone (the default user)
  std::string password{};     // empty: no AUTH
  int db = 0;

  // "redis://user:***@host:port/db" or "unix://user:***@/path?db=N": the only form that goes into
  // logs and errors.
  std::string redacted() const;
  bool operator==(const RedisEndpoint&) const = default;
};

// Errors name the part at fault ("/", "/scheme", "/host", "/port", "/db", "/path", "/query",
// "/fragment") and the reason never repeats the input, so a malformed URL cannot leak its password
// into a log. Pure, thread-safe.
Result<RedisEndpoint> parse_redis_url(std::string_view url);

}  // namespace galaxy
