// The seam between Runtime Manager's sources and the Docker daemon: the sources depend on this
// interface only, so they are unit-tested against a fake. DockerClient (client.hpp) is the real
// one.
//
// Every call has a deadline (DockerClientSettings) and honours cancellation of the awaiting
// coroutine: cancel it through the cancellation slot bound to co_spawn, or race it with the
// awaitable operators (`co_await (api.stream_events(...) || watchdog())`); the call then ends with
// the error cancelled_error() makes (is_cancelled() tells).
//
// Errors say what the caller can do by their kind: io (refused, reset, no socket, DNS), timeout
// (a deadline passed), closed (the daemon ended the stream or the connection), protocol (not HTTP,
// a body that does not parse, an API version older than kMinimumApiVersion), server (an HTTP
// status that is not the call's success; the status is Error::code), invalid (a bad argument,
// refused before any request).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "galaxy/common/result.hpp"
#include "galaxy/docker/types.hpp"

namespace galaxy::docker {

// Called on the client's executor for each line of the stream, in order: the parsed event, or
// why a line was unusable (bad JSON, over max_line_bytes); the stream goes on after a bad line.
// It must not block (the daemon silently drops a reader that falls behind) and must not throw.
using EventHandler = std::function<void(Result<DockerEvent>)>;

// Error::code of a call that ended because its coroutine was cancelled: kind closed as for a
// connection the daemon ended, with the code to tell the two apart (a cancelled caller stops; a
// closed stream is reconnected).
inline constexpr std::string_view kCancelledCode = "cancelled";

inline Error cancelled_error(std::string path) {
  return make_error(ErrorKind::closed, std::move(path), "cancelled", std::string(kCancelledCode));
}

inline bool is_cancelled(const Error& e) {
  return e.kind == ErrorKind::closed && e.code == kCancelledCode;
}

// Error::code of an events stream with EventsQuery::until_nano that Docker ended itself, after
// the last event up to that instant: the replay is complete. A stream that breaks before its end
// is kind closed without this code (or io), so the caller replays again.
inline constexpr std::string_view kCompleteCode = "complete";

inline bool is_complete(const Error& e) {
  return e.kind == ErrorKind::closed && e.code == kCompleteCode;
}

class DockerApi {
 public:
  DockerApi() = default;
  DockerApi(const DockerApi&) = delete;
  DockerApi& operator=(const DockerApi&) = delete;
  DockerApi(DockerApi&&) = delete;
  DockerApi& operator=(DockerApi&&) = delete;
  virtual ~DockerApi() = default;

  // GET /_ping, (re)negotiating the API version: the liveness check of a watchdog.
  virtual boost::asio::awaitable<Result<void>> ping() = 0;

  // GET /info: the daemon's ID, name and version.
  virtual boost::asio::awaitable<Result<DockerInfo>> info() = 0;

  // GET /containers/json?all=true with a label filter ("key" or "key=value").
  virtual boost::asio::awaitable<Result<std::vector<ContainerSummary>>> list_containers(
      std::string label) = 0;

  // GET /containers/{id}/json; a 404 is NotFound, anything else that fails is an Error.
  virtual boost::asio::awaitable<InspectOutcome> inspect(std::string id) = 0;

  // GET /events; calls on_event for every line until the stream ends, and returns why. It has no
  // successful end, so the outcome is an Error rather than a Result: the errors of ping() when
  // negotiation fails first, kind closed when the daemon ends the stream, io or timeout when the
  // connection breaks or the headers do not come in time, server for a non-200 answer,
  // is_cancelled() when cancelled, is_complete() when EventsQuery::until_nano was set and Docker
  // ended the stream after the events up to it. An idle stream is not an error (Docker sends no
  // heartbeats): run ping() alongside to notice a dead daemon.
  virtual boost::asio::awaitable<Error> stream_events(EventsQuery query, EventHandler on_event) = 0;

  // --- lifecycle: what Runtime Manager changes itself --------------------------------------------
  // Ids and refs are checked before they reach a URL: a bad one is an invalid error and no request.

  // POST /containers/create[?name=]: the new container's Id. A missing image is a server error
  // with code "404", a name in use one with code "409"; Docker's message is in the reason.
  virtual boost::asio::awaitable<Result<std::string>> create_container(ContainerCreate spec) = 0;

  // POST /containers/{id}/start; 304 (already started) is success.
  virtual boost::asio::awaitable<Result<void>> start_container(std::string id) = 0;

  // POST /containers/{id}/stop?t=N: SIGTERM, then SIGKILL after timeout; 304 (already stopped) is
  // success. Docker answers only once the container stopped, so the call's deadline is timeout
  // plus the usual request deadline.
  virtual boost::asio::awaitable<Result<void>> stop_container(std::string id,
                                                              std::chrono::seconds timeout) = 0;

  // DELETE /containers/{id}?force=...; a missing container is a server error with code "404"
  // (callers that only want it gone take that as done).
  virtual boost::asio::awaitable<Result<void>> remove_container(std::string id, bool force) = 0;

  // GET /images/{ref}/json: whether the daemon has the image (200 true, 404 false).
  virtual boost::asio::awaitable<Result<bool>> image_exists(std::string ref) = 0;
};

}  // namespace galaxy::docker
