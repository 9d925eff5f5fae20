// `galaxy-health web`: one page and its data, served with Beast on the server's loop.
//
//   GET /, /app.js, /app.css   the page, embedded in the binary (no CDN, works offline)
//   GET /api/v1/games          health_snapshots with each game's state and host status (JSON)
//   GET /api/v1/hosts          the fleet's hosts and their leases (JSON)
//   GET /api/v1/events         Server-Sent Events: `id:` is the stream entry id; Last-Event-ID
//                              (or ?last_event_id=) resumes after it with no gap and no duplicate;
//                              ?backlog=N starts a fresh page with the last N entries
//   GET /healthz               the server's own view of Redis and PostgreSQL
//
// One stream reader feeds every page (EventHub); a page that cannot keep up is disconnected and
// resumes. Loopback unless a token file is given; with one every request needs the bearer token
// or the cookie a `?token=` link sets. No answer names a password: backend errors are redacted.
//
// Not thread-safe: run it on one io_context thread; blocking backend calls run on threads of
// its own.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "galaxy/common/result.hpp"
#include "galaxy/common/stop_signal.hpp"
#include "galaxy/web/backend.hpp"
#include "galaxy/web/hub.hpp"

namespace galaxy::web {

struct WebSettings {
  std::string listen = "127.0.0.1:8090";
  std::string token_file;  // "" none; required when listen is not loopback
  std::string stream = "runtime:health_events";
  HubSettings hub;
  std::size_t max_backlog = 500;
  std::size_t default_backlog = 50;
  std::size_t max_connections = 1024;
  std::size_t max_event_streams = 512;
  std::chrono::milliseconds heartbeat{15'000};
  std::chrono::milliseconds write_timeout{10'000};
  std::chrono::milliseconds idle_timeout{30'000};  // a kept-alive connection with no request
  std::chrono::milliseconds games_cache{500};      // many pages, one query per this interval
  std::chrono::milliseconds block{1'000};          // the reader's XREAD BLOCK
  std::chrono::milliseconds retry_min{250};        // the reader's backoff after a failure
  std::chrono::milliseconds retry_max{5'000};
  std::vector<std::string> secrets;  // passwords scrubbed from every error an answer or log holds
};

struct WebStats {
  std::size_t connections = 0;
  std::size_t event_streams = 0;
  HubStats hub;
  bool redis_up = false;
};

class WebServer {
 public:
  // Binds and listens. Error{invalid} naming the flag for a bad --listen, a non-loopback address
  // without --token-file, or a bad token file; Error{io} when the address cannot be bound.
  static Result<std::unique_ptr<WebServer>> open(const boost::asio::any_io_executor& executor,
                                                 WebSettings settings,
                                                 std::unique_ptr<StreamSource> reader_source,
                                                 std::unique_ptr<StreamSource> catch_up_source,
                                                 std::unique_ptr<SnapshotSource> snapshots);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Accepts until stop(); then closes the listener and every connection (event streams end at
  // once, a request in flight gets its answer) and returns once they are gone.
  boost::asio::awaitable<void> run();
  void stop();
  WebStats stats() const;

  struct Impl;

 private:
  explicit WebServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The whole command: backends from the URLs, the server, until `stop`. Returns the exit code
// (0 after a stop, 1 when it cannot start) and reports on `err`.
struct WebRun {
  WebSettings settings;
  std::string redis_url;
  std::string postgres_url;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds command_timeout{5000};
};
int run_web(const WebRun& run, StopSignal& stop, std::ostream& out, std::ostream& err);

}  // namespace galaxy::web
