// DockerClient: the Docker Engine API over HTTP/1.1 (Boost.Beast), on a unix socket or TCP, on the
// caller's executor. No threads of its own: the events stream, any number of concurrent inspects
// and the pinger share the one io_context. Each request opens its own connection, so concurrent
// calls never queue behind each other (Docker's unix socket makes connecting cheap).
// Calls are made from the executor's one thread (or a strand): the negotiated version is shared
// state without a lock.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "galaxy/common/result.hpp"
#include "galaxy/docker/api.hpp"
#include "galaxy/docker/parse.hpp"
#include "galaxy/docker/types.hpp"

namespace galaxy::docker {

struct UnixEndpoint {
  std::string path;
  bool operator==(const UnixEndpoint&) const = default;
};
struct TcpEndpoint {
  std::string host;
  std::string port;
  bool operator==(const TcpEndpoint&) const = default;
};
using DockerEndpoint = std::variant<UnixEndpoint, TcpEndpoint>;

// DOCKER_HOST syntax: "unix:///path" or "tcp://host:port" (plain HTTP; no TLS support).
Result<DockerEndpoint> parse_docker_host(std::string_view text);

struct DockerClientSettings {
  std::string host = "unix:///var/run/docker.sock";
  std::chrono::milliseconds connect_timeout{2'000};
  // For the whole of a request/response, and for the events stream up to its headers.
  std::chrono::milliseconds request_timeout{10'000};
  std::size_t max_line_bytes = kDefaultMaxLineBytes;   // one events-stream line
  std::size_t max_body_bytes = std::size_t{64} << 20;  // one list/inspect response
  std::string user_agent = "galaxy-runtime-manager";

  // host from DOCKER_HOST when it is set, the defaults otherwise.
  static DockerClientSettings from_environment();
};

class DockerClient final : public DockerApi {
 public:
  // Throws galaxy::ErrorException when settings.host is not a valid DOCKER_HOST (configuration).
  DockerClient(boost::asio::any_io_executor executor, DockerClientSettings settings);

  boost::asio::awaitable<Result<void>> ping() override;
  boost::asio::awaitable<Result<DockerInfo>> info() override;
  boost::asio::awaitable<Result<std::vector<ContainerSummary>>> list_containers(
      std::string label) override;
  boost::asio::awaitable<InspectOutcome> inspect(std::string id) override;
  boost::asio::awaitable<Error> stream_events(EventsQuery query, EventHandler on_event) override;
  boost::asio::awaitable<Result<std::string>> create_container(ContainerCreate spec) override;
  boost::asio::awaitable<Result<void>> start_container(std::string id) override;
  boost::asio::awaitable<Result<void>> stop_container(std::string id,
                                                      std::chrono::seconds timeout) override;
  boost::asio::awaitable<Result<void>> remove_container(std::string id, bool force) override;
  boost::asio::awaitable<Result<bool>> image_exists(std::string ref) override;

  // GET /_ping and the version both sides speak, with the daemon's own version in the error when
  // it is too old. Calls made before any negotiation negotiate first.
  boost::asio::awaitable<Result<ApiVersion>> negotiate();
  std::optional<ApiVersion> api_version() const { return version_; }

  const DockerClientSettings& settings() const { return settings_; }

 private:
  using http_verb = boost::beast::http::verb;
  boost::asio::awaitable<Result<ApiVersion>> ensure_version();
  // Negotiates, then sends method "/v{version}" + tail (a path and query built by Boost.URL) with
  // no body, and accepts the statuses in ok.
  boost::asio::awaitable<Result<void>> versioned_call(http_verb method, std::string tail,
                                                      std::chrono::milliseconds timeout,
                                                      std::span<const unsigned> ok);

  boost::asio::any_io_executor executor_;
  DockerClientSettings settings_;
  DockerEndpoint endpoint_;
  std::optional<ApiVersion> version_;
};

}  // namespace galaxy::docker
