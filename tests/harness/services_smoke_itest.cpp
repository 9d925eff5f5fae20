// The three services the integration tests need answer where the harness env says they are.
// A missing variable or a service that does not answer is a failure, never a skip.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <memory>
#include <string>

#include "galaxy/testsupport/http.hpp"

namespace {

using namespace std::chrono_literals;
using galaxy::testsupport::require_env;

TEST(ServicesSmoke, DockerAnswersPingOverDockerHost) {
  const std::string host = require_env("DOCKER_HOST");
  const std::string scheme = "unix://";
  ASSERT_TRUE(host.starts_with(scheme)) << "DOCKER_HOST must be unix://PATH, got " << host;
  const auto res = galaxy::testsupport::http_request_unix(
      host.substr(scheme.size()), boost::beast::http::verb::get, "/_ping", 10s);
  ASSERT_TRUE(res) << "dockerd at " << host
                   << " did not answer GET /_ping: " << res.error().message();
  EXPECT_EQ(res->status, 200U);
  EXPECT_EQ(res->body, "OK");
}

TEST(ServicesSmoke, RedisAnswersPing) {
  const std::string url = require_env("GALAXY_REDIS_URL");
  const auto parsed = boost::urls::parse_uri(url);
  ASSERT_TRUE(parsed) << "GALAXY_REDIS_URL is not a URL: " << url;
  ASSERT_EQ(parsed->scheme(), "redis") << url;
  const std::string host = parsed->host();
  const int port = parsed->has_port() ? parsed->port_number() : 6379;

  const timeval deadline{5, 0};
  const std::unique_ptr<redisContext, decltype(&redisFree)> ctx(
      redisConnectWithTimeout(host.c_str(), port, deadline), &redisFree);
  ASSERT_NE(ctx, nullptr) << "out of memory connecting to redis";
  ASSERT_EQ(ctx->err, 0) << "redis at " << url << ": " << ctx->errstr;
  ASSERT_EQ(redisSetTimeout(ctx.get(), deadline), REDIS_OK);
  const std::unique_ptr<redisReply, decltype(&freeReplyObject)> reply(
      static_cast<redisReply*>(redisCommand(ctx.get(), "PING")), &freeReplyObject);
  ASSERT_NE(reply, nullptr) << "redis at " << url << " did not answer PING: " << ctx->errstr;
  ASSERT_EQ(reply->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(std::string(reply->str, reply->len), "PONG");
}

TEST(ServicesSmoke, PostgresAnswersSelectOne) {
  const std::string url = require_env("GALAXY_POSTGRES_URL");
  auto parsed = boost::urls::parse_uri(url);
  ASSERT_TRUE(parsed) << "GALAXY_POSTGRES_URL is not a URL: " << url;
  boost::urls::url bounded(*parsed);
  bounded.params().set("connect_timeout", "5");
  // libpq wants the '=' inside the value percent-encoded.
  bounded.encoded_params().set("options", "-c%20statement_timeout%3D10000");

  const std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(bounded.c_str()), &PQfinish);
  ASSERT_NE(conn, nullptr);
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK)
      << "postgres at " << url << ": " << PQerrorMessage(conn.get());
  const std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), "SELECT 1"),
                                                             &PQclear);
  ASSERT_EQ(PQresultStatus(result.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
  ASSERT_EQ(PQntuples(result.get()), 1);
  EXPECT_STREQ(PQgetvalue(result.get(), 0, 0), "1");
}

}  // namespace
