#include "galaxy/testsupport/backends.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <chrono>
#include <stdexcept>

#include "galaxy/pg/conn.hpp"
#include "galaxy/redis/connection.hpp"
#include "galaxy/redis/stream_reply.hpp"

namespace galaxy::testsupport {

using namespace std::chrono_literals;

SqlRows sql(const std::string& postgres_url, const std::string& statement) {
  auto target = pg::parse_target(postgres_url);
  if (!target) {
    throw std::runtime_error("--postgres-url: " + target.error().message());
  }
  auto c = pg::Conn::open(*target, 60s);
  if (!c) {
    throw std::runtime_error(c.error().message());
  }
  const bool returns_rows = statement.starts_with("SELECT") || statement.starts_with("WITH") ||
                            statement.starts_with("SHOW");
  if (!returns_rows) {
    if (auto r = c->simple(statement, c->deadline()); !r) {
      throw std::runtime_error(statement + ": " + r.error().message());
    }
    return {};
  }
  auto r = c->query({statement, {}});
  if (!r) {
    throw std::runtime_error(statement + ": " + r.error().message());
  }
  SqlRows rows;
  for (int i = 0; i < r->size(); ++i) {
    auto& row = rows.emplace_back();
    for (int j = 0; j < r->columns(); ++j) {
      row.emplace_back(r->text(i, j));
    }
  }
  return rows;
}

std::string with_database(const std::string& postgres_url, const std::string& database) {
  const auto scheme = postgres_url.find("://");
  const auto slash = postgres_url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const auto query = postgres_url.find('?', scheme == std::string::npos ? 0 : scheme + 3);
  const auto authority_end = std::min(slash, query);
  // libpq's multi-host form (host1:port1,host2:port2) is no URL: Boost.URL reads it without an
  // error but drops every host after the first. Its path lies between the host list and the query.
  if (scheme != std::string::npos &&
      postgres_url.substr(scheme + 3, authority_end - scheme - 3).find(',') != std::string::npos) {
    return postgres_url.substr(0, authority_end) + "/" + database +
           (query == std::string::npos ? "" : postgres_url.substr(query));
  }
  boost::urls::url u(boost::urls::parse_uri(postgres_url).value());
  u.set_path("/" + database);
  return std::string(u.buffer());
}

redis::ReplyPtr redis_command(const std::string& redis_url, const std::vector<std::string>& argv) {
  auto endpoint = parse_redis_url(redis_url);
  if (!endpoint) {
    throw std::runtime_error("--redis-url: " + endpoint.error().message());
  }
  // In a cluster, the node of the command's key (every command here names one first).
  auto c = redis::Connection::open(*endpoint, 10s, 30s, argv.size() > 1 ? argv[1] : "");
  if (!c) {
    throw std::runtime_error(c.error().message());
  }
  auto r = c->command(argv);
  if (!r) {
    throw std::runtime_error((argv.empty() ? std::string() : argv.front()) + ": " +
                             r.error().message());
  }
  return std::move(*r);
}

std::vector<std::pair<std::string, contract::EntryFields>> read_stream(const std::string& redis_url,
                                                                       const std::string& key) {
  std::vector<std::pair<std::string, contract::EntryFields>> out;
  std::string start = "-";
  for (;;) {
    auto reply = redis_command(redis_url, {"XRANGE", key, start, "+", "COUNT", "1000"});
    if (redis::is_error(reply.get())) {
      throw std::runtime_error("XRANGE " + key + ": " + std::string(redis::text(reply.get())));
    }
    auto entries = redis::parse_entries(reply.get());
    if (!entries) {
      throw std::runtime_error("XRANGE " + key + ": " + entries.error().message());
    }
    if (entries->empty()) {
      return out;
    }
    for (auto& e : *entries) {
      start = "(" + e.id;
      out.emplace_back(std::move(e.id), e.fields.value_or(contract::EntryFields{}));
    }
  }
}

}  // namespace galaxy::testsupport
