#include "galaxy/testsupport/docker_hosts.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "galaxy/testsupport/http.hpp"
#include "galaxy/testsupport/process.hpp"

namespace galaxy::testsupport {

using namespace std::chrono_literals;

namespace {

constexpr std::string_view kUnix = "unix://";

}  // namespace

std::string docker_socket(const std::string& docker_host) {
  if (!docker_host.starts_with(kUnix) || docker_host.size() == kUnix.size()) {
    throw std::runtime_error("a harness DOCKER_HOST is unix://PATH, got '" + docker_host + "'");
  }
  return docker_host.substr(kUnix.size());
}

void require_docker_ping(const std::string& docker_host, const std::string& variable) {
  const auto res =
      http_request_unix(docker_socket(docker_host), boost::beast::http::verb::get, "/_ping", 10s);
  if (!res) {
    throw std::runtime_error("the dockerd of " + variable + "=" + docker_host +
                             " did not answer GET /_ping: " + res.error().message() +
                             " (see `scripts/services status`)");
  }
  if (res->status != 200 || res->body != "OK") {
    throw std::runtime_error("the dockerd of " + variable + "=" + docker_host +
                             " answered GET /_ping with " + std::to_string(res->status) + " '" +
                             res->body + "'");
  }
}

std::string docker_host_a() {
  std::string host = require_env("DOCKER_HOST");
  require_docker_ping(host, "DOCKER_HOST");
  return host;
}

std::string docker_host_b() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): tests read their environment before starting threads
  const char* value = std::getenv("GALAXY_DOCKER_HOST_B");
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(
        "GALAXY_DOCKER_HOST_B is not set: the second Docker host comes from `scripts/services up "
        "--host-b --state <state>`, which adds it to <state>/env; source that (scripts/test does "
        "both)");
  }
  std::string host = value;
  require_docker_ping(host, "GALAXY_DOCKER_HOST_B");
  // NOLINTNEXTLINE(concurrency-mt-unsafe): as above
  const char* a = std::getenv("DOCKER_HOST");
  if (a != nullptr && std::string_view(a).starts_with(kUnix) &&
      docker_socket(a) == docker_socket(host)) {
    throw std::runtime_error("GALAXY_DOCKER_HOST_B and DOCKER_HOST are the same dockerd (" + host +
                             "): host B must be a dockerd of its own");
  }
  return host;
}

std::string docker_cli(const std::string& docker_host, const std::vector<std::string>& args,
                       std::chrono::milliseconds deadline) {
  std::vector<std::string> argv{"docker", "-H", docker_host};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = run(argv, deadline);
  if (out.timed_out || out.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) {
      cmd += a + " ";
    }
    throw std::runtime_error(cmd + (out.timed_out ? "timed out" : "failed") + ": " + out.output);
  }
  while (!out.output.empty() && (out.output.back() == '\n' || out.output.back() == ' ')) {
    out.output.pop_back();
  }
  return std::move(out.output);
}

}  // namespace galaxy::testsupport
