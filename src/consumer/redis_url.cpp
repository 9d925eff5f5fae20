#include "galaxy/consumer/redis_url.hpp"

#include <fmt/format.h>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <limits>

namespace galaxy::consumer {

namespace {

Error url_error(std::string reason) {
  return make_error("redis_url", std::move(reason));
}

Result<int> parse_db(std::string_view text) {
  int db = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, db);
  if (text.empty() || ec != std::errc{} || ptr != end || db < 0 ||
      (text.size() > 1 && text.front() == '0')) {
    return url_error("db must be a non-negative decimal integer");
  }
  return db;
}

}  // namespace

std::string RedisEndpoint::redacted() const {
  std::string auth;
  if (!user.empty() || !password.empty()) {
    auth = fmt::format("{}{}@", user, password.empty() ? "" : ":***");
  }
  if (transport == Transport::unix_socket) {
    return db == 0 ? fmt::format("unix://{}{}", auth, socket_path)
                   : fmt::format("unix://{}{}?db={}", auth, socket_path, db);
  }
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("redis://{}{}{}{}:{}{}", auth, v6 ? "[" : "", host, v6 ? "]" : "", port,
                     db == 0 ? std::string{} : fmt::format("/{}", db));
}

Result<RedisEndpoint> parse_redis_url(std::string_view url) {
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return url_error(
        "not a URL of the form redis://[user:password@]host[:port][/db] or "
        "unix:///path");
  }
  const boost::urls::url_view& u = *parsed;
  if (u.has_fragment()) {
    return url_error("a fragment is not allowed");
  }
  RedisEndpoint ep;
  if (u.has_userinfo()) {
    ep.user = u.user();
    if (u.has_password()) {
      ep.password = u.password();
    }
  }
  const std::string scheme(u.scheme());
  if (scheme == "unix") {
    ep.transport = RedisEndpoint::Transport::unix_socket;
    if (!u.encoded_host().empty() || u.has_port()) {
      return url_error("a unix URL has no host: write unix:///absolute/path");
    }
    ep.socket_path = u.path();
    if (!ep.socket_path.starts_with('/') || ep.socket_path.size() < 2) {
      return url_error("a unix URL needs an absolute socket path");
    }
    for (const auto& param : u.params()) {
      if (param.key != "db" || !param.has_value) {
        return url_error("the only query parameter of a unix URL is db=N");
      }
      auto db = parse_db(param.value);
      if (!db) {
        return db.error();
      }
      ep.db = *db;
    }
    return ep;
  }
  if (scheme != "redis") {
    return url_error("scheme must be redis or unix");
  }
  if (u.has_query()) {
    return url_error("a redis URL takes no query; the db is the path: redis://host:port/db");
  }
  ep.host = u.host_address();
  if (ep.host.empty()) {
    return url_error("missing host");
  }
  if (u.has_port()) {
    const auto port = u.port();
    unsigned value = 0;
    const auto* end = port.data() + port.size();
    const auto [ptr, ec] = std::from_chars(port.data(), end, value);
    if (port.empty() || ec != std::errc{} || ptr != end || value == 0 ||
        value > std::numeric_limits<std::uint16_t>::max()) {
      return url_error("port must be 1-65535");
    }
    ep.port = static_cast<std::uint16_t>(value);
  }
  const std::string path = u.path();
  if (!path.empty() && path != "/") {
    auto db = parse_db(std::string_view(path).substr(1));
    if (!db) {
      return db.error();
    }
    ep.db = *db;
  }
  return ep;
}

}  // namespace galaxy::consumer
