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

Result<void> parse_unix(const boost::urls::url_view& u, RedisEndpoint& ep) {
  ep.transport = RedisEndpoint::Transport::unix_socket;
  if (!u.encoded_host().empty() || u.has_port()) {
    return make_error("/host", "a unix URL has no host: write unix:///absolute/path");
  }
  ep.socket_path = u.path();
  if (!ep.socket_path.starts_with('/') || ep.socket_path.size() < 2) {
    return make_error("/path", "a unix URL needs an absolute socket path");
  }
  for (const auto& param : u.params()) {
    if (param.key != "db" || !param.has_value) {
      return make_error("/query", "the only query parameter of a unix URL is db=N");
    }
    auto db = parse_db(param.value);
    if (!db) {
      return db.error();
    }
    ep.db = *db;
  }
  return {};
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

}  // namespace

std::string RedisEndpoint::redacted() const {
  std::string auth;
  if (!user.empty() || !password.empty()) {
    auth = user + (password.empty() ? "" : ":***") + "@";
  }
  if (transport == Transport::unix_socket) {
    return "unix://" + auth + socket_path + "?db=" + std::to_string(db);
  }
  const bool v6 = host.find(':') != std::string::npos;
  return "redis://" + auth + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" +
         std::to_string(db);
}

Result<RedisEndpoint> parse_redis_url(std::string_view url) {
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return make_error("/",
                      "not a URL (expected redis://[user:password@]host[:port][/db] or "
                      "unix:///path/to/redis.sock[?db=N])");
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
  Result<void> parts = make_error("/scheme", "scheme must be redis or unix");
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
