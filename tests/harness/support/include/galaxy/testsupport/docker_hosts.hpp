#pragma once
// The harness' two Docker hosts, for tests that need more than one (the fleet: several hosts on
// one Redis and PostgreSQL). Host A is the dockerd of DOCKER_HOST, next to the other services;
// host B is the docker-only second host of `scripts/services up --host-b`, whose DOCKER_HOST value
// is GALAXY_DOCKER_HOST_B. As in backends.hpp, every helper throws std::runtime_error naming what
// is missing or failed, which gtest reports as the test's failure: in CI a service that did not
// start fails the test, never skips it.
#include <chrono>
#include <string>
#include <vector>

namespace galaxy::testsupport {

// The socket path of a DOCKER_HOST value unix://PATH; throws for any other form.
std::string docker_socket(const std::string& docker_host);

// Throws unless the dockerd at docker_host answers GET /_ping with 200 "OK" within 10 s; the
// message names `variable`, where docker_host came from.
void require_docker_ping(const std::string& docker_host, const std::string& variable);

// DOCKER_HOST, checked to answer /_ping.
std::string docker_host_a();

// GALAXY_DOCKER_HOST_B, checked to answer /_ping; a host B that points at host A's socket throws
// too (the two would not be independent).
std::string docker_host_b();

// The docker CLI against one host (`docker -H HOST ARGS...`) with a deadline; its output without
// trailing newlines and spaces. A non-zero exit or the deadline throws with the command and its
// output.
std::string docker_cli(const std::string& docker_host, const std::vector<std::string>& args,
                       std::chrono::milliseconds deadline = std::chrono::seconds(120));

}  // namespace galaxy::testsupport
