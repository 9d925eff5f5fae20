// Where Redis is, from a --redis-url or a consumer's options, and how to name it in logs and errors
// without showing the password. The daemon's sink and the consumer SDK share this one parser so
// both accept exactly the same URLs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/common/result.hpp"

namespace galaxy {

// One host:port of a multi-node URL (a sentinel, a cluster seed).
struct RedisNode {
  std::string host;  // IPv6 without brackets
  std::uint16_t port = 0;
  bool operator==(const RedisNode&) const = default;
};

// redis://[user:password@]host[:port][/db]
// unix://[user:password@]/path/to/redis.sock[?db=N]
// redis-sentinel://[user:password@]host:port[,host:port...]/master_name[?db=N]
// redis-cluster://[user:password@]host:port[,host:port...]
//
// For Sentinel the credentials and db are the data nodes' (the master's and its replicas'); the
// sentinels themselves are asked without AUTH. A cluster has only db 0.
struct RedisEndpoint {
  enum class Transport : std::uint8_t { tcp, unix_socket };
  enum class Topology : std::uint8_t { single, sentinel, cluster };
  Topology topology = Topology::single;
  Transport transport = Transport::tcp;
  std::string host{};         // tcp only; IPv6 without brackets
  std::uint16_t port = 6379;  // tcp only
  std::string socket_path{};  // unix_socket only
  std::string user{};         // empty: AUTH with the password alone (the default user)
  std::string password{};     // empty: no AUTH
  int db = 0;
  std::vector<RedisNode> nodes{};  // sentinel: the sentinels; cluster: the seed nodes
  std::string master_name{};       // sentinel only

  // "redis://user:***@host:port/db", "unix://user:***@/path?db=N",
  // "redis-sentinel://user:***@h:p,h:p/name?db=N" or "redis-cluster://user:***@h:p,h:p": the only
  // form that goes into logs and errors.
  std::string redacted() const;
  bool operator==(const RedisEndpoint&) const = default;
};

// Errors name the part at fault ("/", "/scheme", "/host", "/port", "/db", "/path", "/query",
// "/fragment", "/master") and the reason never repeats the input, so a malformed URL cannot leak
// its password into a log. Pure, thread-safe.
Result<RedisEndpoint> parse_redis_url(std::string_view url);

}  // namespace galaxy
