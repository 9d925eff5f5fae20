// The three services the integration tests need answer where the harness env says they are.
// A missing variable or a service that does not answer is a failure, never a skip.
#include <gtest/gtest.h>

#include <string>

#include "galaxy/testsupport/backends.hpp"
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
  ASSERT_TRUE(url.starts_with("redis://")) << "GALAXY_REDIS_URL is not a redis:// URL: " << url;
  const auto reply = galaxy::testsupport::redis_command(url, {"PING"});
  EXPECT_EQ(galaxy::redis::text(reply.get()), "PONG");
}

TEST(ServicesSmoke, PostgresAnswersSelectOne) {
  const std::string url = require_env("GALAXY_POSTGRES_URL");
  ASSERT_TRUE(url.starts_with("postgresql://")) << "GALAXY_POSTGRES_URL is not a URL: " << url;
  const auto rows = galaxy::testsupport::sql(url, "SELECT 1");
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].at(0), "1");
}

}  // namespace
