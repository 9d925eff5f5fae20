#include "galaxy/common/redis_url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <limits>

namespace galaxy {

namespace {

// Decimal without sign or leading zeros: "01" would name db 1 in some clients and be rejected by
// others, so it is refused rather than guessed.
Result<int> parse_db(std::string_view text) {
  int db = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, db);
  if (text.empty() || ec != std::errc{} || ptr != end || db < 0 ||
      (text.size() > 1 && text.front() == '0')) {
    return make_error("/db", "db must be a non-negative decimal integer");
  }
  return db;
}

Result<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value == 0 ||
      value > std::numeric_limits<std::uint16_t>::max()) {
    return make_error("/port", "port must be 1-65535");
  }
  return static_cast<std::uint16_t>(value);
}

// ?db=N, the one query parameter of the URLs whose path is not the db.
Result<void> parse_db_query(const boost::urls::url_view& u, std::string_view scheme,
                            RedisEndpoint& ep) {
  for (const auto& param : u.params()) {
    if (param.key != "db" || !param.has_value) {
      return make_error("/query",
                        "the only query parameter of a " + std::string(scheme) + " URL is db=N");
    }
    auto db = parse_db(param.value);
    if (!db) {
      return db.error();
    }
    ep.db = *db;
  }
  return {};
}

Result<void> parse_unix(const boost::urls::url_view& u, RedisEndpoint& ep) {
  ep.transport = RedisEndpoint::Transport::unix_socket;
  if (!u.encoded_host().empty() || u.has_port()) {
    return make_error("/host", "a unix URL has no host: write unix:///absolute/path");
  }
  ep.socket_path = u.path();
  if (!ep.socket_path.starts_with('/') || ep.socket_path.size() < 2) {
    return make_error("/path", "a unix URL needs an absolute socket path");
  }
  return parse_db_query(u, "unix", ep);
}

Result<void> parse_tcp(const boost::urls::url_view& u, RedisEndpoint& ep) {
  if (u.has_query()) {
    return make_error("/query",
                      "a redis URL takes no query; the db is the path: redis://host:port/db");
  }
  ep.host = u.host_address();
  if (ep.host.empty()) {
    return make_error("/host", "a redis URL needs a host");
  }
  if (u.has_port()) {
    auto port = parse_port(u.port());
    if (!port) {
      return port.error();
    }
    ep.port = *port;
  }
  const std::string path = u.path();
  if (!path.empty() && path != "/") {
    auto db = parse_db(std::string_view(path).substr(1));
    if (!db) {
      return db.error();
    }
    ep.db = *db;
  }
  return {};
}

// "host[:port]" or "[v6]:port" of a multi-node URL; Boost.URL has no grammar for a host list.
Result<RedisNode> parse_node(std::string_view text, std::uint16_t default_port) {
  RedisNode node{.host = {}, .port = default_port};
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return make_error("/host", "an IPv6 host needs its closing ]");
    }
    node.host = std::string(text.substr(1, close - 1));
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) {
        return make_error("/host", "expected :port after an IPv6 host");
      }
      port = rest.substr(1);
      if (port.empty()) {
        return make_error("/port", "port must be 1-65535");
      }
    }
  } else {
    const auto colon = text.find(':');
    node.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      if (port.empty()) {
        return make_error("/port", "port must be 1-65535");
      }
    }
  }
  if (node.host.empty()) {
    return make_error("/host", "every node of the list needs a host");
  }
  if (node.host.find_first_of("%/?#@[] ") != std::string::npos) {
    return make_error("/host", "a host of the list may only hold letters, digits, '.', '-', ':'");
  }
  if (!port.empty()) {
    auto p = parse_port(port);
    if (!p) {
      return p.error();
    }
    node.port = *p;
  }
  return node;
}

Result<void> parse_multi(std::string_view url, std::string_view scheme, RedisEndpoint& ep) {
  const bool sentinel = scheme == "redis-sentinel";
  ep.topology = sentinel ? RedisEndpoint::Topology::sentinel : RedisEndpoint::Topology::cluster;
  std::string_view rest = url.substr(scheme.size() + 3);
  const auto authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  const std::string_view tail =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  std::string_view userinfo;
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
  }
  // The userinfo, path and query have ordinary URL grammar: Boost.URL decodes them from the same
  // URL with the host list replaced by one placeholder host.
  const std::string single = "redis://" + std::string(userinfo) + (userinfo.empty() ? "" : "@") +
                             "nodes" + std::string(tail);
  const auto parsed = boost::urls::parse_uri(single);
  if (!parsed) {
    return make_error("/", "not a URL (expected " + std::string(scheme) +
                               "://[user:password@]host:port[,host:port...]" +
                               (sentinel ? "/master_name[?db=N])" : ")"));
  }
  const boost::urls::url_view& u = *parsed;
  if (u.has_fragment()) {
    return make_error("/fragment", "a fragment is not allowed");
  }
  if (u.has_userinfo()) {
    ep.user = u.user();
    if (u.has_password()) {
      ep.password = u.password();
    }
  }
  if (authority.empty()) {
    return make_error("/host", "a " + std::string(scheme) + " URL needs at least one host:port");
  }
  const std::uint16_t default_port = sentinel ? 26379 : 6379;
  while (!authority.empty()) {
    const auto comma = authority.find(',');
    auto node = parse_node(authority.substr(0, comma), default_port);
    if (!node) {
      return node.error();
    }
    ep.nodes.push_back(std::move(*node));
    if (comma == std::string_view::npos) {
      break;
    }
    authority = authority.substr(comma + 1);
    if (authority.empty()) {
      return make_error("/host", "the host list ends with a comma");
    }
  }
  const std::string path = u.path();
  if (sentinel) {
    ep.master_name = path.empty() ? std::string{} : path.substr(1);
    if (ep.master_name.empty() || ep.master_name.find('/') != std::string::npos) {
      return make_error("/master", "a redis-sentinel URL names its master: .../master_name");
    }
    return parse_db_query(u, "redis-sentinel", ep);
  }
  if (!path.empty() && path != "/") {
    return make_error("/db", "a Redis Cluster has only db 0: a redis-cluster URL has no path");
  }
  if (u.has_query()) {
    return make_error("/query", "a redis-cluster URL takes no query");
  }
  return {};
}

std::string node_text(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

std::string RedisEndpoint::redacted() const {
  std::string auth;
  if (!user.empty() || !password.empty()) {
    auth = user + (password.empty() ? "" : ":***") + "@";
  }
  if (topology != Topology::single) {
    std::string list;
    for (const auto& n : nodes) {
      list += (list.empty() ? "" : ",") + node_text(n.host, n.port);
    }
    if (topology == Topology::cluster) {
      return "redis-cluster://" + auth + list;
    }
    return "redis-sentinel://" + auth + list + "/" + master_name + "?db=" + std::to_string(db);
  }
  if (transport == Transport::unix_socket) {
    return "unix://" + auth + socket_path + "?db=" + std::to_string(db);
  }
  return "redis://" + auth + node_text(host, port) + "/" + std::to_string(db);
}

Result<RedisEndpoint> parse_redis_url(std::string_view url) {
  for (const std::string_view scheme : {"redis-sentinel", "redis-cluster"}) {
    if (url.size() >= scheme.size() + 3 && url.starts_with(scheme) &&
        url.substr(scheme.size(), 3) == "://") {
      RedisEndpoint ep;
      if (auto r = parse_multi(url, scheme, ep); !r) {
        return r.error();
      }
      return ep;
    }
  }
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return make_error("/",
                      "not a URL (expected redis://[user:password@]host[:port][/db], "
                      "unix:///path/to/redis.sock[?db=N], "
                      "redis-sentinel://host:port[,host:port...]/master_name[?db=N] or "
                      "redis-cluster://host:port[,host:port...])");
  }
  const boost::urls::url_view& u = *parsed;
  if (u.has_fragment()) {
    return make_error("/fragment", "a fragment is not allowed");
  }
  RedisEndpoint ep;
  if (u.has_userinfo()) {
    ep.user = u.user();
    if (u.has_password()) {
      ep.password = u.password();
    }
  }
  Result<void> parts =
      make_error("/scheme", "scheme must be redis, unix, redis-sentinel or redis-cluster");
  if (u.scheme() == "redis") {
    parts = parse_tcp(u, ep);
  } else if (u.scheme() == "unix") {
    parts = parse_unix(u, ep);
  }
  if (!parts) {
    return parts.error();
  }
  return ep;
}

}  // namespace galaxy
