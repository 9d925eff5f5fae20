// Source 3 of EMISSION-RULES.md: one active HTTP/1.1 GET against a container's /healthz, and the
// failure/recovery state machine that turns a series of probe results into probe_failed and
// probe_recovered.
//
// Built for thousands of targets on one shared io_context: a ProbeSession is a small per-target
// object (socket, timer, parser state) reused for every probe of that target; the read buffer is
// borrowed from a pool only once the socket has something to read, so silent targets cost no
// buffer. Everything here runs on one thread: call it from the executor's thread (a single-threaded
// io_context or a strand).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "galaxy/common/clock.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/contract/event.hpp"

namespace galaxy::sources {

struct ProbeSettings {
  // Covers connect, sending the request and receiving the whole response head.
  std::chrono::milliseconds timeout{1000};
  // Off: one connection per probe with "Connection: close". On: the connection is kept between
  // probes of a target when the server allows it.
  bool keep_alive = false;
  std::size_t max_head_bytes = 8192;  // status line + header fields, all interim 1xx heads included
  std::size_t max_body_bytes = 4096;  // read at most this much after the head, then stop
  std::string user_agent = "galaxy-runtime-manager/0.1";
};

struct ProbeResult {
  int status = 0;                        // the HTTP status; 0 when no HTTP response was received
  std::string error;                     // why there is no HTTP response; "" when there is one
  std::chrono::microseconds latency{0};  // start to complete response head (or to the failure)
  std::size_t bytes_received = 0;
  bool reused_connection = false;

  // EMISSION-RULES.md: 200-399 is a success; a redirect is never followed, its status counts.
  bool ok() const { return status >= 200 && status <= 399; }
};

// Where to probe and the request bytes, built and validated once per target.
class ProbeTarget {
 public:
  // `path` comes from a container label, so it is checked to be a plain origin-form target: a
  // label must not be able to inject header lines.
  static Result<ProbeTarget> make(std::string_view address, std::uint16_t port,
                                  std::string_view path, const ProbeSettings& settings);

  const boost::asio::ip::tcp::endpoint& endpoint() const { return endpoint_; }
  const std::string& request() const { return request_; }

 private:
  ProbeTarget(boost::asio::ip::tcp::endpoint endpoint, std::string request)
      : endpoint_(std::move(endpoint)), request_(std::move(request)) {}

  boost::asio::ip::tcp::endpoint endpoint_;
  std::string request_;
};

namespace detail {
// Beast's parser with nothing stored: http::response_parser<empty_body> keeps every header field
// in basic_fields (one allocation per field) and we only need the status and the framing, which
// basic_parser itself tracks. Beast still does all validation, the header limit and chunking.
class StatusOnlyParser final : public boost::beast::http::basic_parser<false> {
 public:
  int status() const { return status_; }
  std::size_t body_bytes() const { return body_bytes_; }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;
  void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code& ec) override;
  void on_field_impl(boost::beast::http::field, string_view, string_view, error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override;
  void on_finish_impl(error_code&) override {}

  int status_ = 0;
  std::size_t body_bytes_ = 0;
};
}  // namespace detail

// Reads one HTTP response out of bytes as they arrive, with bounded memory: the caller reads into
// read_space() and reports how much arrived with commit(). No I/O here, so the fuzz target and unit
// tests drive exactly the code the sessions run.
class ResponseReader {
 public:
  enum class State {
    need_more,  // read more into read_space()
    complete,   // the whole response was read; keep_alive() says whether the connection can stay
    truncated,  // the head is complete but the rest is not worth reading (body over the limit,
                // malformed body, or the peer closed early): the status stands, close
    failed,     // no usable response head: error() says why
  };

  // `buffer` must be larger than max_head_bytes so the head limit is what stops a long head.
  ResponseReader(std::span<char> buffer, std::size_t max_head_bytes, std::size_t max_body_bytes);
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  // Where the next read goes; never empty while state() is need_more.
  std::span<char> read_space();
  // `n` bytes were written at the start of read_space().
  State commit(std::size_t n);
  // The peer closed its side.
  State commit_eof();

  State state() const { return state_; }
  bool head_done() const { return status_ != 0; }
  int status() const { return status_; }
  bool keep_alive() const { return state_ == State::complete && keep_alive_; }
  const std::string& error() const { return error_; }
  std::size_t bytes_received() const { return received_; }

 private:
  State parse();
  bool looks_like_http() const;
  State fail(std::string reason);
  void start_parser(std::size_t head_budget);

  std::span<char> buffer_;
  std::size_t max_head_;
  std::size_t max_body_;
  std::size_t begin_ = 0;  // first byte not yet consumed by the parser
  std::size_t end_ = 0;    // one past the last byte received
  std::size_t received_ = 0;
  std::size_t head_bytes_ = 0;  // consumed by complete interim 1xx heads
  std::size_t head_part_ = 0;   // consumed of the head being parsed (Beast takes the status line
                                // before the fields have arrived)
  std::size_t after_head_ = 0;  // received after the final head
  int status_ = 0;
  bool keep_alive_ = false;
  State state_ = State::need_more;
  std::string error_;
  std::optional<detail::StatusOnlyParser> parser_;
};

class ProbeSession;

// The parts every session of one prober shares: settings, clock and the read-buffer pool.
class Prober {
 public:
  Prober(boost::asio::any_io_executor executor, const Clock& clock, ProbeSettings settings);

  const ProbeSettings& settings() const;
  Result<ProbeTarget> make_target(std::string_view address, std::uint16_t port,
                                  std::string_view path) const;
  // One session per target. `on_done` runs on the executor once per start(), never inline.
  std::shared_ptr<ProbeSession> make_session(std::function<void(const ProbeResult&)> on_done) const;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

// Probes one target, one probe at a time. Owned through shared_ptr because its pending handlers
// keep it alive: an owner can drop it mid-probe (after detach()) without waiting.
class ProbeSession : public std::enable_shared_from_this<ProbeSession> {
 public:
  ProbeSession(std::shared_ptr<Prober::Shared> shared,
               std::function<void(const ProbeResult&)> on_done);
  ProbeSession(const ProbeSession&) = delete;
  ProbeSession& operator=(const ProbeSession&) = delete;

  // Precondition: !busy().
  void start(std::shared_ptr<const ProbeTarget> target);
  bool busy() const { return busy_; }
  // Ends a probe in flight early (its result says "cancelled") and closes a kept connection.
  void cancel();
  // on_done is never called again.
  void detach() { detached_ = true; }

 private:
  enum class Phase : std::uint8_t { connect, send, head, body, drain };

  void connect();
  void send();
  void wait_readable();
  void on_readable(const boost::system::error_code& ec);
  void on_timer(const boost::system::error_code& ec);
  bool retry_on_fresh_connection(const boost::system::error_code& ec);
  void handle(ResponseReader::State state);
  void fail(std::string reason);
  void finish_io(bool keep_connection);
  void maybe_complete();
  std::size_t receive_now(std::span<char> into, boost::system::error_code& ec);
  void close_socket();

  std::shared_ptr<Prober::Shared> shared_;
  std::function<void(const ProbeResult&)> on_done_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<const ProbeTarget> target_;
  std::unique_ptr<char[]> buffer_;  // borrowed from the pool while reading
  std::optional<ResponseReader> reader_;
  ProbeResult result_;
  std::chrono::steady_clock::time_point started_{};
  std::size_t sent_ = 0;  // bytes of the request sent on this connection
  Phase phase_ = Phase::connect;
  bool abortive_close_ = false;  // the server closed first: close with a reset
  bool busy_ = false;
  bool detached_ = false;
  bool io_done_ = false;
  bool timer_done_ = false;
  bool timed_out_ = false;
  bool cancelled_ = false;
  bool retried_ = false;
};

struct ProbeThresholds {
  int failure = 3;  // consecutive failures that open an episode (probe_failed)
  int success = 1;  // consecutive successes that close it (probe_recovered)
};

// EMISSION-RULES.md Source 3 as a pure state machine, one per target.
//
// With success > 1, a success inside an episode that does not reach the threshold does not break
// the failure run: prior_failure_count counts every failure since the episode's run began.
class ProbeStateMachine {
 public:
  // Throws std::invalid_argument for a threshold below 1 (configuration).
  explicit ProbeStateMachine(ProbeThresholds thresholds = {});

  // The event this result causes, if any.
  std::optional<contract::Details> observe(const ProbeResult& result);
  // A new start of the container: a fresh run; an open episode ends silently.
  void reset();

  bool failing() const { return failing_; }
  std::int64_t consecutive_failures() const { return failures_; }

 private:
  ProbeThresholds thresholds_;
  std::int64_t failures_ = 0;
  std::int64_t successes_ = 0;
  bool failing_ = false;
};

}  // namespace galaxy::sources
