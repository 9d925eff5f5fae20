#include "galaxy/probe/session.hpp"

#include <sys/socket.h>
#include <sys/types.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/assert.hpp>
#include <cerrno>
#include <stdexcept>
#include <utility>
#include <vector>

#include "galaxy/probe/prober.hpp"
#include "galaxy/probe/target.hpp"

namespace galaxy::probe {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// An origin-form request target of visible ASCII: no spaces, controls or fragments, so a label
// value cannot split the request line or add header lines.
bool valid_path(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > 2048) {
    return false;
  }
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#') {
      return false;
    }
  }
  return true;
}

bool valid_header_value(std::string_view value) {
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      return false;
    }
  }
  return true;
}

std::string describe(const error_code& ec) {
  namespace e = asio::error;
  if (ec == e::connection_refused) {
    return "connection refused";
  }
  // A write into a connection the peer has reset reports EPIPE; for an operator it is the same.
  if (ec == e::connection_reset || ec == e::broken_pipe) {
    return "connection reset";
  }
  if (ec == e::host_unreachable) {
    return "host unreachable";
  }
  if (ec == e::network_unreachable) {
    return "network unreachable";
  }
  if (ec == e::eof) {
    return "connection closed before response";
  }
  return "network error: " + ec.message();
}

// Idle buffers kept for reuse; more than this in flight at once is rare, and those are freed.
constexpr std::size_t kMaxIdleBuffers = 64;
// Beyond the head limit, so Beast's header_limit (not a full buffer) stops a long head and the
// start of a body fits beside a full-size head.
constexpr std::size_t kBufferSlack = 1024;

}  // namespace

Result<ProbeTarget> ProbeTarget::make(std::string_view address, std::uint16_t port,
                                      std::string_view path, const ProbeSettings& settings) {
  error_code ec;
  const auto ip = asio::ip::make_address(std::string(address), ec);
  if (ec) {
    return make_error("/address", "not an IP address: \"" + std::string(address) + "\"");
  }
  if (port == 0) {
    return make_error("/port", "port 0 cannot be probed");
  }
  if (!valid_path(path)) {
    return make_error("/path",
                      "not an absolute path of visible ASCII: \"" + std::string(path) + "\"");
  }
  if (!valid_header_value(settings.user_agent)) {
    return make_error("/user_agent", "contains control characters");
  }
  std::string host = ip.is_v6() ? "[" + ip.to_string() + "]" : ip.to_string();
  std::string request;
  request.reserve(128 + path.size() + settings.user_agent.size());
  request.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(host);
  request.append(":").append(std::to_string(port));
  request.append("\r\nUser-Agent: ").append(settings.user_agent);
  request.append("\r\nAccept: */*\r\nConnection: ");
  request.append(settings.keep_alive ? "keep-alive" : "close").append("\r\n\r\n");
  return ProbeTarget(asio::ip::tcp::endpoint(ip, port), std::move(request));
}

struct Prober::Shared {
  Shared(asio::any_io_executor ex, const Clock& c, ProbeSettings s)
      : executor(std::move(ex)),
        clock(c),
        settings(std::move(s)),
        buffer_size(settings.max_head_bytes + kBufferSlack) {}

  std::unique_ptr<char[]> acquire() {
    if (free_buffers.empty()) {
      return std::make_unique_for_overwrite<char[]>(buffer_size);
    }
    auto buffer = std::move(free_buffers.back());
    free_buffers.pop_back();
    return buffer;
  }
  void release(std::unique_ptr<char[]> buffer) {
    if (free_buffers.size() < kMaxIdleBuffers) {
      free_buffers.push_back(std::move(buffer));
    }
  }

  asio::any_io_executor executor;
  const Clock& clock;
  ProbeSettings settings;
  std::size_t buffer_size;
  std::vector<std::unique_ptr<char[]>> free_buffers;
};

Prober::Prober(asio::any_io_executor executor, const Clock& clock, ProbeSettings settings) {
  if (settings.timeout <= std::chrono::milliseconds::zero()) {
    throw std::invalid_argument("probe timeout must be positive");
  }
  if (settings.max_head_bytes < 64 || settings.max_head_bytes > (1U << 20)) {
    throw std::invalid_argument("probe max_head_bytes must be within 64 B..1 MiB");
  }
  if (settings.max_body_bytes > (1U << 20)) {
    throw std::invalid_argument("probe max_body_bytes must be at most 1 MiB");
  }
  if (!valid_header_value(settings.user_agent)) {
    throw std::invalid_argument("probe user_agent contains control characters");
  }
  shared_ = std::make_shared<Shared>(std::move(executor), clock, std::move(settings));
}

const ProbeSettings& Prober::settings() const {
  return shared_->settings;
}

Result<ProbeTarget> Prober::make_target(std::string_view address, std::uint16_t port,
                                        std::string_view path) const {
  return ProbeTarget::make(address, port, path, shared_->settings);
}

std::shared_ptr<ProbeSession> Prober::make_session(
    std::function<void(const ProbeResult&)> on_done) const {
  return std::make_shared<ProbeSession>(shared_, std::move(on_done));
}

ProbeSession::ProbeSession(std::shared_ptr<Prober::Shared> shared,
                           std::function<void(const ProbeResult&)> on_done)
    : shared_(std::move(shared)),
      on_done_(std::move(on_done)),
      socket_(shared_->executor),
      timer_(shared_->clock.make_timer(shared_->executor)) {}

void ProbeSession::start(std::shared_ptr<const ProbeTarget> target) {
  BOOST_ASSERT(!busy_ && target);
  busy_ = true;
  io_done_ = timer_done_ = timed_out_ = cancelled_ = retried_ = false;
  target_ = std::move(target);
  result_ = ProbeResult{};
  started_ = shared_->clock.steady();
  timer_->expires_after(shared_->settings.timeout);
  timer_->async_wait([self = shared_from_this()](const error_code& ec) { self->on_timer(ec); });
  if (socket_.is_open()) {
    result_.reused_connection = true;
    phase_ = Phase::send;
    sent_ = 0;
    send();
  } else {
    connect();
  }
}

// The connect and the request are plain syscalls on asio's descriptor, with asio used only to
// wait for readiness: asio's async_connect confirms a finished connect with poll() and
// getsockopt(SO_ERROR) and its async_write waits for writability first, four syscalls and one
// loop wake-up per probe that a target on this host (loopback or a bridge, where the handshake
// completes inside connect()) never needs. A connect that failed is reported by the first send.
void ProbeSession::connect() {
  phase_ = Phase::connect;
  sent_ = 0;
  error_code ec;
  socket_.open(target_->endpoint().protocol(), ec);
  if (!ec) {
    socket_.non_blocking(true, ec);
  }
  if (ec) {
    return fail(describe(ec));
  }
  const auto& endpoint = target_->endpoint();
  if (::connect(socket_.native_handle(), endpoint.data(),
                static_cast<socklen_t>(endpoint.size())) != 0 &&
      errno != EINPROGRESS && errno != EINTR) {
    return fail(describe(error_code(errno, boost::system::system_category())));
  }
  send();
}

void ProbeSession::send() {
  const std::string& request = target_->request();
  while (sent_ < request.size()) {
    const ssize_t n = ::send(socket_.native_handle(), request.data() + sent_,
                             request.size() - sent_, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<std::size_t>(n);
      phase_ = Phase::send;
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      // Still connecting, or a full send buffer.
      socket_.async_wait(asio::ip::tcp::socket::wait_write,
                         [self = shared_from_this()](const error_code& wec) {
                           if (self->timed_out_ || self->cancelled_) {
                             return self->finish_io(false);
                           }
                           if (wec) {
                             return self->fail(describe(wec));
                           }
                           self->send();
                         });
      return;
    }
    const error_code ec(errno, boost::system::system_category());
    if (retry_on_fresh_connection(ec)) {
      return;
    }
    return fail(describe(ec));
  }
  phase_ = Phase::head;
  wait_readable();
}

// Waiting for readiness first, then reading, means a target that has not answered yet holds no
// read buffer: with thousands of slow targets the buffers would otherwise dominate memory.
void ProbeSession::wait_readable() {
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const error_code& ec) { self->on_readable(ec); });
}

void ProbeSession::on_readable(const error_code& ec) {
  if (timed_out_ || cancelled_) {
    return finish_io(false);
  }
  if (ec) {
    if (reader_ && reader_->head_done()) {
      return finish_io(false);  // the status stands
    }
    return fail(describe(ec));
  }
  if (!reader_) {
    buffer_ = shared_->acquire();
    reader_.emplace(std::span<char>(buffer_.get(), shared_->buffer_size),
                    shared_->settings.max_head_bytes, shared_->settings.max_body_bytes);
  }
  if (phase_ == Phase::drain) {
    // The response is complete and the server was asked to close: reading its FIN before closing
    // leaves TIME_WAIT on its side rather than ours, and a graceful close instead of a reset.
    char sink[512];
    error_code rec;
    receive_now(std::span<char>(sink), rec);
    if (rec == asio::error::would_block) {
      return wait_readable();
    }
    if (rec == asio::error::eof) {
      // The server has closed its side and read nothing more from us: a reset instead of our
      // FIN saves the FIN/ACK exchange and the server's TIME_WAIT socket, which at thousands of
      // probes a second are most of what a probe costs the kernels of both sides.
      abortive_close_ = true;
    }
    return finish_io(false);
  }
  const auto space = reader_->read_space();
  error_code rec;
  const std::size_t n = receive_now(space, rec);
  if (rec == asio::error::would_block) {
    return wait_readable();
  }
  if (rec == asio::error::eof) {
    if (retry_on_fresh_connection(rec)) {
      return;
    }
    return handle(reader_->commit_eof());
  }
  if (rec) {
    if (retry_on_fresh_connection(rec)) {
      return;
    }
    if (reader_->head_done()) {
      return finish_io(false);  // the status stands; the rest of the body does not matter
    }
    return fail(describe(rec));
  }
  handle(reader_->commit(n));
}

// A kept connection may have been closed by the server while idle; that is not the target's
// failure, so such a probe gets one fresh connection within the same deadline.
bool ProbeSession::retry_on_fresh_connection(const error_code& ec) {
  if (!result_.reused_connection || retried_ || (reader_ && reader_->bytes_received() > 0)) {
    return false;
  }
  if (ec != asio::error::eof && ec != asio::error::connection_reset &&
      ec != asio::error::broken_pipe) {
    return false;
  }
  retried_ = true;
  result_.reused_connection = false;
  close_socket();
  reader_.reset();
  connect();
  return true;
}

void ProbeSession::handle(ResponseReader::State state) {
  result_.bytes_received = reader_->bytes_received();
  if (reader_->head_done() && result_.status == 0) {
    result_.status = reader_->status();
    result_.latency =
        std::chrono::duration_cast<std::chrono::microseconds>(shared_->clock.steady() - started_);
  }
  switch (state) {
    case ResponseReader::State::need_more:
      phase_ = reader_->head_done() ? Phase::body : Phase::head;
      return wait_readable();
    case ResponseReader::State::complete:
      if (shared_->settings.keep_alive && reader_->keep_alive()) {
        return finish_io(true);
      }
      phase_ = Phase::drain;
      return on_readable({});
    case ResponseReader::State::truncated:
      return finish_io(false);
    case ResponseReader::State::failed:
      return fail(reader_->error());
  }
}

void ProbeSession::fail(std::string reason) {
  result_.status = 0;
  result_.error = std::move(reason);
  finish_io(false);
}

void ProbeSession::finish_io(bool keep_connection) {
  io_done_ = true;
  if (!keep_connection) {
    close_socket();
  }
  timer_->cancel();
  maybe_complete();
}

void ProbeSession::on_timer(const error_code& ec) {
  timer_done_ = true;
  if (ec != asio::error::operation_aborted && !io_done_) {
    timed_out_ = true;
    if (result_.status == 0) {
      const char* what = "waiting for response head";
      if (phase_ == Phase::connect) {
        what = "waiting for connect";
      } else if (phase_ == Phase::send) {
        what = "sending request";
      }
      result_.error =
          "timeout after " + std::to_string(shared_->settings.timeout.count()) + "ms " + what;
      result_.timed_out = true;
    }
    close_socket();  // the pending operation completes with operation_aborted
  }
  maybe_complete();
}

void ProbeSession::cancel() {
  if (!busy_) {
    close_socket();
    return;
  }
  if (io_done_) {
    return;
  }
  cancelled_ = true;
  if (result_.status == 0) {
    result_.error = "cancelled";
  }
  close_socket();
  timer_->cancel();
}

void ProbeSession::maybe_complete() {
  if (!io_done_ || !timer_done_) {
    return;
  }
  if (result_.status == 0) {
    result_.latency =
        std::chrono::duration_cast<std::chrono::microseconds>(shared_->clock.steady() - started_);
  }
  if (reader_) {
    result_.bytes_received = reader_->bytes_received();
    reader_.reset();
  }
  if (buffer_) {
    shared_->release(std::move(buffer_));
  }
  target_.reset();
  busy_ = false;
  if (detached_) {
    return;
  }
  // Moved out first: on_done_ may start the next probe, which resets result_.
  const ProbeResult result = std::move(result_);
  on_done_(result);
}

// recv(MSG_DONTWAIT) directly: asio's synchronous receive would block (poll) on EAGAIN unless the
// socket were switched to user non-blocking mode, which costs an extra ioctl per connection.
std::size_t ProbeSession::receive_now(std::span<char> into, error_code& ec) {
  const ssize_t n = ::recv(socket_.native_handle(), into.data(), into.size(), MSG_DONTWAIT);
  if (n > 0) {
    ec = {};
    return static_cast<std::size_t>(n);
  }
  if (n == 0) {
    ec = asio::error::eof;
  } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    ec = asio::error::would_block;
  } else {
    ec = error_code(errno, boost::system::system_category());
  }
  return 0;
}

void ProbeSession::close_socket() {
  if (socket_.is_open()) {
    error_code ignored;
    if (abortive_close_) {
      socket_.set_option(asio::socket_base::linger(true, 0), ignored);
    }
    socket_.close(ignored);
  }
  abortive_close_ = false;
}

}  // namespace galaxy::probe
