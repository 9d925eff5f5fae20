// The seam between Runtime Manager's sources and the Docker daemon: the sources depend on this
// interface only, so they are unit-tested against a fake. DockerClient (client.hpp) is the real
// one.
//
// Every call has a deadline (DockerClientSettings) and honours cancellation of the awaiting
// coroutine: cancel it through the cancellation slot bound to co_spawn, or race it with the
// awaitable operators (`co_await (api.stream_events(...) || watchdog())`); the call then ends with
// asio::error::operation_aborted.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <functional>
#include <string>
#include <vector>

#include "galaxy/common/result.hpp"
#include "galaxy/docker/types.hpp"

namespace galaxy::docker {

// Called on the client's executor for each line of the stream, in order: the parsed event, or
// why a line was unusable (bad JSON, over max_line_bytes); the stream goes on after a bad line.
// It must not block (the daemon silently drops a reader that falls behind) and must not throw.
using EventHandler = std::function<void(Result<DockerEvent>)>;

class DockerApi {
 public:
  DockerApi() = default;
  DockerApi(const DockerApi&) = delete;
  DockerApi& operator=(const DockerApi&) = delete;
  DockerApi(DockerApi&&) = delete;
  DockerApi& operator=(DockerApi&&) = delete;
  virtual ~DockerApi() = default;

  // GET /_ping, (re)negotiating the API version. Success: {}. Errors: asio's (refused, timed_out,
  // operation_aborted, ...) or errc::{http_status, bad_response, unsupported_api_version}.
  virtual boost::asio::awaitable<boost::system::error_code> ping() = 0;

  // GET /containers/json?all=true with a label filter ("key" or "key=value").
  virtual boost::asio::awaitable<Result<std::vector<ContainerSummary>>> list_containers(
      std::string label) = 0;

  // GET /containers/{id}/json; a 404 is NotFound, anything else that fails is an Error.
  virtual boost::asio::awaitable<InspectOutcome> inspect(std::string id) = 0;

  // GET /events; calls on_event for every line until the stream ends, and returns why: the
  // connect/header errors of ping(), errc::stream_closed when the daemon ends it, an Asio error
  // when the connection breaks, operation_aborted when cancelled. An idle stream is not an error
  // (Docker sends no heartbeats): run ping() alongside to notice a dead daemon.
  virtual boost::asio::awaitable<boost::system::error_code> stream_events(
      EventsQuery query, EventHandler on_event) = 0;
};

}  // namespace galaxy::docker
