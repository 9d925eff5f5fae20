// One active HTTP/1.1 GET at a time against one target's /healthz (docs/emission-rules.md,
// Source 3). Runs on the prober's executor thread only; see prober.hpp.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "galaxy/common/timer.hpp"
#include "galaxy/probe/prober.hpp"
#include "galaxy/probe/response_reader.hpp"
#include "galaxy/probe/target.hpp"
#include "galaxy/probe/types.hpp"

namespace galaxy::probe {

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
  std::unique_ptr<Timer> timer_;  // the deadline, in the prober's clock
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

}  // namespace galaxy::probe
