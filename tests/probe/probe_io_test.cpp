// The prober and the scheduler against real loopback servers run in-process on the same
// io_context, in simulated time: a ManualClock drives every probe deadline, the schedule and the
// servers' pauses, so no deadline passes because the machine is slow, and a "nothing happens
// within X" check advances time by X and runs the loop until idle instead of sleeping. The socket
// I/O is real: waits on it are for a condition, with a generous real-time limit that only stops a
// hang.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "galaxy/common/clock.hpp"
#include "galaxy/common/timer.hpp"
#include "galaxy/probe/prober.hpp"
#include "galaxy/probe/scheduler.hpp"
#include "galaxy/probe/session.hpp"
#include "galaxy/probe/state_machine.hpp"

namespace galaxy::probe {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using std::chrono::milliseconds;

constexpr auto kGenerous = std::chrono::seconds(20);

// Accepts connections on 127.0.0.1 and hands each to `behave`.
class TestServer {
 public:
  using Behavior = std::function<awaitable<void>(TestServer&, tcp::socket)>;

  TestServer(asio::io_context& ioc, const Clock& clock, Behavior behave)
      : clock_(clock),
        acceptor_(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0)),
        behave_(std::move(behave)) {
    asio::co_spawn(ioc, accept_loop(), asio::detached);
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  // Reads one request head; "" when the client closed or failed first.
  awaitable<std::string> read_request(tcp::socket& socket, std::string& pending) {
    boost::system::error_code ec;
    const std::size_t n = co_await asio::async_read_until(
        socket, asio::dynamic_buffer(pending), "\r\n\r\n", asio::redirect_error(use_awaitable, ec));
    if (ec) {
      co_return "";
    }
    std::string request = pending.substr(0, n);
    pending.erase(0, n);
    requests.push_back(request);
    co_return request;
  }

  awaitable<std::string> read_request(tcp::socket& socket) {
    std::string pending;
    co_return co_await read_request(socket, pending);
  }

  // A pause in the test's (simulated) time.
  awaitable<void> sleep_for(milliseconds d) {
    const auto timer = clock_.make_timer(co_await asio::this_coro::executor);
    timer->expires_after(d);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(use_awaitable, ec));
  }

  int connections = 0;
  std::vector<std::string> requests;
  std::size_t bytes_written = 0;
  bool client_went_away = false;
  int finished = 0;  // connections the behavior has finished with

 private:
  awaitable<void> accept_loop() {
    while (true) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec) {
        co_return;
      }
      ++connections;
      asio::co_spawn(acceptor_.get_executor(), behave_(*this, std::move(socket)), asio::detached);
    }
  }

  const Clock& clock_;
  tcp::acceptor acceptor_;
  Behavior behave_;
};

awaitable<void> write_all(tcp::socket& socket, std::string_view bytes,
                          TestServer* server = nullptr) {
  boost::system::error_code ec;
  const std::size_t n = co_await asio::async_write(socket, asio::buffer(bytes),
                                                   asio::redirect_error(use_awaitable, ec));
  if (server != nullptr) {
    server->bytes_written += n;
    server->client_went_away = server->client_went_away || static_cast<bool>(ec);
  }
}

// Reads the request, answers `response`, closes.
TestServer::Behavior answer(const std::string& response) {
  return [response](TestServer& server, tcp::socket socket) -> awaitable<void> {
    if ((co_await server.read_request(socket)).empty()) {
      co_return;
    }
    co_await write_all(socket, response);
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    co_await server.sleep_for(milliseconds(200));  // let the client read and close first
  };
}

// Reads the request and never answers; holds the connection until the client closes it.
TestServer::Behavior silent() {
  return [](TestServer& server, tcp::socket socket) -> awaitable<void> {
    if ((co_await server.read_request(socket)).empty()) {
      co_return;
    }
    char byte = 0;
    boost::system::error_code ec;
    co_await socket.async_read_some(asio::buffer(&byte, 1),
                                    asio::redirect_error(use_awaitable, ec));
    ++server.finished;
  };
}

struct ProbeFixture : ::testing::Test {
  asio::io_context ioc;
  // After ioc: the waits still pending at the end go before the loop they would complete on.
  ManualClock clock;

  ProbeSettings settings(milliseconds timeout = milliseconds(2000), bool keep_alive = false) {
    ProbeSettings s;
    s.timeout = timeout;
    s.keep_alive = keep_alive;
    return s;
  }

  // Starts one probe on `*keep` (made on first use) or on `fresh`; its result lands in `last`.
  void start_probe(const Prober& prober, std::uint16_t port,
                   std::shared_ptr<ProbeSession>* keep = nullptr) {
    auto& session = keep != nullptr ? *keep : fresh;
    if (!session) {
      session = prober.make_session([this](const ProbeResult& r) { last = r; });
    }
    auto target = prober.make_target("127.0.0.1", port, "/healthz");
    EXPECT_TRUE(target.has_value());
    last.reset();
    session->start(std::make_shared<const ProbeTarget>(std::move(*target)));
  }

  // Runs one probe to completion, in no simulated time at all: its deadline cannot pass.
  std::optional<ProbeResult> probe(const Prober& prober, std::uint16_t port,
                                   std::shared_ptr<ProbeSession>* keep = nullptr) {
    fresh.reset();
    start_probe(prober, port, keep);
    run_until([&] { return last.has_value(); });
    return last;
  }

  // Probes once, expects an HTTP response and returns its status.
  int status_of(const Prober& prober, std::uint16_t port) {
    const auto r = probe(prober, port);
    if (!r) {
      ADD_FAILURE() << "the probe did not finish";
      return -1;
    }
    EXPECT_EQ(r->error, "");
    return r->status;
  }

  // Probes once, expects no HTTP response and returns why.
  std::string no_response_error(const Prober& prober, std::uint16_t port) {
    const auto r = probe(prober, port);
    if (!r) {
      ADD_FAILURE() << "the probe did not finish";
      return "";
    }
    EXPECT_EQ(r->status, 0);
    EXPECT_FALSE(r->ok());
    return r->error;
  }

  std::shared_ptr<ProbeSession> fresh;
  std::optional<ProbeResult> last;

  // Runs the loop on real I/O until done(), while simulated time stands still; the real-time
  // limit only ends a hang.
  void run_until(const std::function<bool()>& done) {
    const auto give_up = std::chrono::steady_clock::now() + kGenerous;
    while (!done() && std::chrono::steady_clock::now() < give_up) {
      if (ioc.stopped()) {
        ioc.restart();
      }
      ioc.run_one_for(milliseconds(100));
    }
  }

  // Runs every handler that is ready, blocking on nothing: with time standing still, whatever
  // is left waits on time or on a peer. The real-time limit only ends a handler storm.
  void settle() {
    const auto give_up = std::chrono::steady_clock::now() + kGenerous;
    ioc.restart();
    while (ioc.poll() > 0 && std::chrono::steady_clock::now() < give_up) {
    }
  }

  // Moves simulated time on by d, settling the loop at every deadline on the way.
  void advance(ManualClock::duration d) {
    clock.advance(d, [this] { settle(); });
  }
};

TEST_F(ProbeFixture, Ok200AndTheRequestItSent) {
  TestServer server(ioc, clock,
                    answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"));
  Prober prober(ioc.get_executor(), clock, settings());
  EXPECT_EQ(status_of(prober, server.port()), 200);
  ASSERT_EQ(server.requests.size(), 1U);
  const std::string& req = server.requests[0];
  EXPECT_TRUE(req.starts_with("GET /healthz HTTP/1.1\r\n")) << req;
  EXPECT_NE(req.find("\r\nUser-Agent: galaxy-runtime-manager/0.1\r\n"), std::string::npos);
  EXPECT_NE(req.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_NE(req.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos);
}

TEST_F(ProbeFixture, Status500IsAFailureWithoutError) {
  TestServer server(ioc, clock,
                    answer("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"));
  Prober prober(ioc.get_executor(), clock, settings());
  EXPECT_EQ(status_of(prober, server.port()), 500);
}

TEST_F(ProbeFixture, RedirectIsNotFollowed) {
  TestServer server(ioc, clock,
                    answer("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
                           "Content-Length: 0\r\n\r\n"));
  Prober prober(ioc.get_executor(), clock, settings());
  EXPECT_EQ(status_of(prober, server.port()), 302);
  EXPECT_EQ(server.requests.size(), 1U);
}

TEST_F(ProbeFixture, RefusedPort) {
  std::uint16_t port = 0;
  {
    tcp::acceptor closed(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    port = closed.local_endpoint().port();
  }
  Prober prober(ioc.get_executor(), clock, settings());
  EXPECT_EQ(no_response_error(prober, port), "connection refused");
}

TEST_F(ProbeFixture, ServerThatNeverAnswersHitsTheDeadline) {
  TestServer server(ioc, clock, silent());
  Prober prober(ioc.get_executor(), clock, settings(milliseconds(300)));
  start_probe(prober, server.port());
  run_until([&] { return server.requests.size() == 1; });
  advance(milliseconds(299));
  EXPECT_FALSE(last.has_value()) << "the deadline passed early";
  advance(milliseconds(1));
  run_until([&] { return last.has_value(); });
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->status, 0);
  EXPECT_EQ(last->error, "timeout after 300ms waiting for response head");
  EXPECT_EQ(last->latency, milliseconds(300));
  EXPECT_TRUE(last->timed_out);
  EXPECT_EQ(classify(*last), ProbeOutcome::timeout);
  run_until([&] { return server.finished == 1; });
  EXPECT_EQ(server.finished, 1) << "the prober closed the connection";
}

TEST_F(ProbeFixture, SlowlorisTimesOutAtTheDeadline) {
  TestServer server(ioc, clock, [](TestServer& s, tcp::socket socket) -> awaitable<void> {
    co_await s.read_request(socket);
    const std::string head = "HTTP/1.1 200 OK\r\nX-Slow: " + std::string(1000, 'z');
    for (const char c : head) {
      co_await write_all(socket, std::string_view(&c, 1), &s);
      if (s.client_went_away) {
        co_return;
      }
      co_await s.sleep_for(milliseconds(100));
    }
  });
  Prober prober(ioc.get_executor(), clock, settings(milliseconds(500)));
  start_probe(prober, server.port());
  run_until([&] { return server.bytes_written > 0; });
  advance(milliseconds(500));  // a byte every 100 ms on the way
  run_until([&] { return last.has_value(); });
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->status, 0);
  EXPECT_EQ(last->error, "timeout after 500ms waiting for response head");
  EXPECT_GT(last->bytes_received, 0U);
}

TEST_F(ProbeFixture, EndlessBodyStopsReading) {
  TestServer server(ioc, clock, [](TestServer& s, tcp::socket socket) -> awaitable<void> {
    co_await s.read_request(socket);
    co_await write_all(socket, "HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n", &s);
    const std::string chunk(std::size_t{16} * 1024, 'x');
    while (!s.client_went_away && s.bytes_written < 1'000'000'000) {
      co_await write_all(socket, chunk, &s);
    }
  });
  const auto s = settings();
  Prober prober(ioc.get_executor(), clock, s);
  const auto r = probe(prober, server.port());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->error, "");
  EXPECT_LE(r->bytes_received, s.max_head_bytes + 1024 + s.max_body_bytes);
  run_until([&] { return server.client_went_away; });
  EXPECT_TRUE(server.client_went_away) << "the prober must close instead of reading on";
}

TEST_F(ProbeFixture, HugeHeadersFailBounded) {
  TestServer server(
      ioc, clock,
      answer("HTTP/1.1 200 OK\r\nX-Filler: " + std::string(std::size_t{64} * 1024, 'h') +
             "\r\nContent-Length: 0\r\n\r\n"));
  const auto s = settings();
  Prober prober(ioc.get_executor(), clock, s);
  EXPECT_EQ(no_response_error(prober, server.port()), "response head over 8192 bytes");
  EXPECT_LE(last->bytes_received, s.max_head_bytes + 1024);
}

TEST_F(ProbeFixture, ConnectionReset) {
  TestServer server(ioc, clock, [](TestServer& s, tcp::socket socket) -> awaitable<void> {
    co_await s.read_request(socket);
    socket.set_option(asio::socket_base::linger(true, 0));  // close() sends RST
    socket.close();
  });
  Prober prober(ioc.get_executor(), clock, settings());
  EXPECT_EQ(no_response_error(prober, server.port()), "connection reset");
}

// Once the server has closed its side, the prober resets instead of sending its own FIN: no
// FIN/ACK exchange and no TIME_WAIT socket on the server for every probe.
TEST_F(ProbeFixture, ClosesWithAResetOnceTheServerHasClosed) {
  std::optional<boost::system::error_code> server_read;
  TestServer server(ioc, clock, [&](TestServer& s, tcp::socket socket) -> awaitable<void> {
    co_await s.read_request(socket);
    co_await write_all(socket,
                       "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
    socket.shutdown(tcp::socket::shutdown_send);
    char byte = 0;
    boost::system::error_code ec;
    co_await socket.async_read_some(asio::buffer(&byte, 1),
                                    asio::redirect_error(use_awaitable, ec));
    server_read = ec;
  });
  Prober prober(ioc.get_executor(), clock, settings());
  EXPECT_EQ(status_of(prober, server.port()), 200);
  run_until([&] { return server_read.has_value(); });
  ASSERT_TRUE(server_read.has_value());
  EXPECT_EQ(*server_read, asio::error::connection_reset);
}

// A server that keeps the connection open (ignoring "Connection: close") is not reset: the
// prober closes first, gracefully, as any client would.
TEST_F(ProbeFixture, ClosesGracefullyWhenTheServerKeepsTheConnection) {
  std::optional<boost::system::error_code> server_read;
  TestServer server(ioc, clock, [&](TestServer& s, tcp::socket socket) -> awaitable<void> {
    co_await s.read_request(socket);
    co_await write_all(socket, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n", &s);
    char byte = 0;
    boost::system::error_code ec;
    co_await socket.async_read_some(asio::buffer(&byte, 1),
                                    asio::redirect_error(use_awaitable, ec));
    server_read = ec;
  });
  Prober prober(ioc.get_executor(), clock, settings(milliseconds(300)));
  start_probe(prober, server.port());
  run_until([&] { return server.bytes_written > 0; });
  settle();
  EXPECT_FALSE(last.has_value()) << "the prober waits for the close until its deadline";
  advance(milliseconds(300));
  run_until([&] { return last.has_value() && server_read.has_value(); });
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->status, 200);
  EXPECT_EQ(last->error, "");
  ASSERT_TRUE(server_read.has_value());
  EXPECT_EQ(*server_read, asio::error::eof);
}

TEST_F(ProbeFixture, ClosedWithoutResponse) {
  TestServer server(ioc, clock, [](TestServer& s, tcp::socket socket) -> awaitable<void> {
    co_await s.read_request(socket);
    socket.shutdown(tcp::socket::shutdown_send);
    co_await s.sleep_for(milliseconds(200));
  });
  Prober prober(ioc.get_executor(), clock, settings());
  EXPECT_EQ(no_response_error(prober, server.port()), "connection closed before response");
}

TEST_F(ProbeFixture, TlsServerOnAPlainPortIsMalformed) {
  // What a TLS server sends back for a plaintext request: a fatal alert record.
  TestServer server(ioc, clock, answer(std::string("\x15\x03\x03\x00\x02\x02\x32", 7)));
  Prober prober(ioc.get_executor(), clock, settings());
  const std::string error = no_response_error(prober, server.port());
  EXPECT_TRUE(error.starts_with("malformed HTTP response")) << error;
}

TEST_F(ProbeFixture, GarbageIsMalformed) {
  TestServer server(ioc, clock, answer("SSH-2.0-OpenSSH_9.2\r\n"));
  Prober prober(ioc.get_executor(), clock, settings());
  const std::string error = no_response_error(prober, server.port());
  EXPECT_TRUE(error.starts_with("malformed HTTP response")) << error;
}

// Answers every request on a connection with 200 and keeps it open, up to `per_connection`
// requests.
TestServer::Behavior keep_alive_server(int per_connection) {
  return [per_connection](TestServer& s, tcp::socket socket) -> awaitable<void> {
    std::string pending;
    for (int i = 0; i < per_connection; ++i) {
      if ((co_await s.read_request(socket, pending)).empty()) {
        co_return;
      }
      co_await write_all(socket, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
    socket.close();
    ++s.finished;
  };
}

TEST_F(ProbeFixture, KeepAliveReusesTheConnection) {
  TestServer server(ioc, clock, keep_alive_server(100));
  Prober prober(ioc.get_executor(), clock, settings(milliseconds(2000), true));
  std::shared_ptr<ProbeSession> session;  // one session across probes, as the scheduler uses it
  std::vector<ProbeResult> results;
  for (int i = 0; i < 3; ++i) {
    const auto r = probe(prober, server.port(), &session);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    results.push_back(*r);
  }
  EXPECT_EQ(server.connections, 1);
  EXPECT_EQ(server.requests.size(), 3U);
  EXPECT_FALSE(results[0].reused_connection);
  EXPECT_TRUE(results[1].reused_connection);
  EXPECT_TRUE(results[2].reused_connection);
  EXPECT_NE(server.requests[0].find("\r\nConnection: keep-alive\r\n"), std::string::npos);
}

TEST_F(ProbeFixture, KeepAliveReconnectsWhenTheServerDroppedTheIdleConnection) {
  TestServer server(ioc, clock, keep_alive_server(1));
  Prober prober(ioc.get_executor(), clock, settings(milliseconds(2000), true));
  std::shared_ptr<ProbeSession> session;
  const auto first = probe(prober, server.port(), &session);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);
  run_until([&] { return server.finished == 1; });
  ASSERT_EQ(server.finished, 1);
  const auto second = probe(prober, server.port(), &session);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 200) << second->error;
  EXPECT_FALSE(second->reused_connection);
  EXPECT_EQ(server.connections, 2);
}

struct SchedulerFixture : ProbeFixture {
  struct Reported {
    std::string key;
    contract::Details details;
    std::int64_t wall_ms;
  };

  static ProbeSchedulerSettings fast(milliseconds timeout = milliseconds(500)) {
    ProbeSchedulerSettings s;
    s.interval = milliseconds(20);
    s.start_grace = milliseconds(0);
    s.probe.timeout = timeout;
    s.jitter_seed = 1;
    return s;
  }

  std::unique_ptr<ProbeScheduler> make(ProbeSchedulerSettings s,
                                       const std::function<void(const Reported&)>& also = {}) {
    return std::make_unique<ProbeScheduler>(
        ioc.get_executor(), clock, std::move(s),
        [this, also](const std::string& key, const contract::Details& d, std::int64_t wall_ms) {
          reports.push_back({key, d, wall_ms});
          if (also) {
            also(reports.back());
          }
        });
  }

  // Probes started and not yet finished; exact while no session was retired mid-probe.
  static std::uint64_t in_flight(const ProbeScheduler& scheduler) {
    const auto s = scheduler.stats();
    return s.probes_started - s.probes_ok - s.probes_failed;
  }

  // Moves simulated time on, one batch window at a time (the scheduler wakes only on those), until
  // done() or `limit`. At every deadline on the way the loop is settled and then run on real I/O
  // until quiet(): given "the probes this step started have finished", no deadline passes while
  // a reply is merely on its way, however slow the machine.
  void advance_until(const std::function<bool()>& done, milliseconds limit,
                     const std::function<bool()>& quiet = {}) {
    const milliseconds step = fast().batch_window;
    for (milliseconds waited{0}; !done() && waited < limit; waited += step) {
      clock.advance(step, [&] {
        settle();
        if (quiet) {
          run_until(quiet);
        }
      });
    }
  }

  std::uint16_t refused_port() {
    tcp::acceptor closed(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    return closed.local_endpoint().port();
  }

  std::vector<Reported> reports;
};

TEST_F(SchedulerFixture, FailsAfterThreeThenRecoversWithTheWholeRun) {
  int status = 500;
  TestServer server(ioc, clock, [&status](TestServer& s, tcp::socket socket) -> awaitable<void> {
    if ((co_await s.read_request(socket)).empty()) {
      co_return;
    }
    co_await write_all(socket, "HTTP/1.1 " + std::to_string(status) +
                                   " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  auto scheduler = make(fast(), [&status](const Reported&) { status = 200; });
  ASSERT_TRUE(scheduler->add("c1", "127.0.0.1", server.port(), "/healthz").has_value());
  advance_until([&] { return reports.size() >= 2; }, milliseconds(2000),
                [&] { return in_flight(*scheduler) == 0; });
  ASSERT_EQ(reports.size(), 2U);
  EXPECT_EQ(reports[0].key, "c1");
  EXPECT_EQ(reports[0].details, contract::Details(contract::ProbeFailed{3, 500, ""}));
  EXPECT_EQ(reports[1].details, contract::Details(contract::ProbeRecovered{3}));
  EXPECT_GT(reports[0].wall_ms, 0);
  EXPECT_EQ(reports[1].wall_ms - reports[0].wall_ms, 20) << "the next round, one interval later";
  const auto stats = scheduler->stats();
  EXPECT_EQ(stats.targets, 1U);
  EXPECT_EQ(stats.probes_failed, 3U);
  EXPECT_EQ(stats.probes_ok, 1U);
  EXPECT_EQ(stats.rounds_missed, 0U);
}

TEST_F(SchedulerFixture, ReAddingAKeyStartsAFreshRun) {
  const std::uint16_t port = refused_port();
  std::unique_ptr<ProbeScheduler> scheduler;
  scheduler = make(fast(), [&](const Reported& r) {
    if (reports.size() == 1) {
      // The container started again: a new run, so a second probe_failed after 3 more failures.
      EXPECT_TRUE(scheduler->add(r.key, "127.0.0.1", port, "/healthz").has_value());
    }
  });
  ASSERT_TRUE(scheduler->add("c1", "127.0.0.1", port, "/healthz").has_value());
  advance_until([&] { return reports.size() >= 2; }, milliseconds(2000),
                [&] { return in_flight(*scheduler) == 0; });
  ASSERT_EQ(reports.size(), 2U);
  const contract::Details refused = contract::ProbeFailed{3, 0, "connection refused"};
  EXPECT_EQ(reports[0].details, refused);
  EXPECT_EQ(reports[1].details, refused);
  EXPECT_EQ(scheduler->stats().probes_failed, 6U);
}

TEST_F(SchedulerFixture, SlowTargetsMissRoundsInsteadOfPilingUp) {
  TestServer server(ioc, clock, silent());
  auto scheduler = make(fast(milliseconds(200)));
  ASSERT_TRUE(scheduler->add("c1", "127.0.0.1", server.port(), "/healthz").has_value());
  // Quiet once every started probe's request has reached the server: each is then waiting for a
  // response head, which never comes.
  advance_until([&] { return !reports.empty(); }, milliseconds(2000),
                [&] { return server.requests.size() == scheduler->stats().probes_started; });
  ASSERT_EQ(reports.size(), 1U);
  EXPECT_EQ(reports[0].details, contract::Details(contract::ProbeFailed{
                                    3, 0, "timeout after 200ms waiting for response head"}));
  const auto stats = scheduler->stats();
  EXPECT_EQ(stats.probes_started, 3U);
  EXPECT_EQ(stats.probes_started, static_cast<std::uint64_t>(server.connections));
  EXPECT_GT(stats.rounds_missed, 0U) << "a 200 ms probe every 20 ms must miss rounds";
  EXPECT_EQ(stats.rounds_skipped, 0U) << "the timer woke for every slot";
}

TEST_F(SchedulerFixture, RemovedAndStoppedTargetsReportNothing) {
  const std::uint16_t port = refused_port();
  auto scheduler = make(fast());
  ASSERT_TRUE(scheduler->add("gone", "127.0.0.1", port, "/healthz").has_value());
  ASSERT_TRUE(scheduler->add("stopped", "127.0.0.1", port, "/healthz").has_value());
  scheduler->remove("gone");
  EXPECT_FALSE(scheduler->contains("gone"));
  advance_until([&] { return scheduler->stats().probes_started > 0; }, milliseconds(1000));
  ASSERT_GT(scheduler->stats().probes_started, 0U);
  const std::uint64_t started = scheduler->stats().probes_started;
  scheduler->stop();
  advance(milliseconds(300));  // 15 rounds: without remove/stop both would have failed 3 times
  EXPECT_TRUE(reports.empty());
  EXPECT_EQ(scheduler->stats().probes_started, started) << "nothing started after stop()";
  EXPECT_EQ(clock.pending_waits(), 0U) << "and nothing is left waiting to fire later";
  EXPECT_FALSE(scheduler->add("late", "127.0.0.1", port, "/healthz").has_value());
}

TEST_F(SchedulerFixture, DestroyedWithProbesInFlight) {
  TestServer server(ioc, clock, silent());
  auto scheduler = make(fast(milliseconds(5000)));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(scheduler->add("c" + std::to_string(i), "127.0.0.1", server.port(), "/healthz")
                    .has_value());
  }
  advance_until([&] { return server.requests.size() >= 20; }, milliseconds(1000),
                [&] { return server.requests.size() == scheduler->stats().probes_started; });
  EXPECT_EQ(server.connections, 20);
  scheduler.reset();
  // Past every probe's deadline: whatever handlers are still pending run against a destroyed
  // scheduler.
  advance(milliseconds(6000));
  EXPECT_TRUE(reports.empty());
  EXPECT_EQ(clock.pending_waits(), 0U);
  run_until([&] { return server.finished == 20; });
  EXPECT_EQ(server.finished, 20) << "every connection was closed";
}

TEST_F(SchedulerFixture, RejectsBadTargetsAndUnknownKeys) {
  auto scheduler = make(fast());
  const auto bad = scheduler->add("c1", "127.0.0.1", 8080, "/a b");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().path, "/path");
  EXPECT_FALSE(scheduler->contains("c1"));
  EXPECT_FALSE(scheduler->update("nope", "127.0.0.1", 8080, "/healthz").has_value());
  EXPECT_THROW(make([] {
                 auto s = fast();
                 s.interval = milliseconds(0);
                 return s;
               }()),
               std::invalid_argument);
}

TEST_F(SchedulerFixture, UpdateMovesATargetWithoutResettingItsRun) {
  TestServer failing(ioc, clock, answer("HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"));
  const std::uint16_t refused = refused_port();
  std::uint64_t failed_before_report = 0;
  std::unique_ptr<ProbeScheduler> scheduler;
  scheduler = make(
      fast(), [&](const Reported&) { failed_before_report = scheduler->stats().probes_failed; });
  ASSERT_TRUE(scheduler->add("c1", "127.0.0.1", refused, "/healthz").has_value());
  const auto quiet = [&] { return in_flight(*scheduler) == 0; };
  advance_until([&] { return scheduler->stats().probes_failed >= 2; }, milliseconds(1000), quiet);
  ASSERT_EQ(scheduler->stats().probes_failed, 2U);
  ASSERT_TRUE(scheduler->update("c1", "127.0.0.1", failing.port(), "/healthz").has_value());
  advance_until([&] { return !reports.empty(); }, milliseconds(1000), quiet);
  ASSERT_EQ(reports.size(), 1U);
  // The third failure overall completes the run, and it came from the new address.
  EXPECT_EQ(reports[0].details, contract::Details(contract::ProbeFailed{3, 500, ""}));
  EXPECT_EQ(failed_before_report, 3U);
}

// Three rounds of 300 targets in simulated time: every batch's probes finish before time moves on,
// so however loaded the machine, no deadline passes and no round is missed or skipped.
TEST_F(SchedulerFixture, ManyTargetsOnOneLoop) {
  TestServer server(ioc, clock, answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  auto settings = fast();
  settings.interval = milliseconds(100);
  auto scheduler = make(settings);
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(scheduler->add("c" + std::to_string(i), "127.0.0.1", server.port(), "/healthz")
                    .has_value());
  }
  // First slots are in [0, 100 ms), so by 300 ms each target has had exactly three.
  clock.advance(milliseconds(300), [&] {
    settle();
    run_until([&] { return in_flight(*scheduler) == 0; });
  });
  const auto stats = scheduler->stats();
  EXPECT_EQ(stats.probes_started, 900U);
  EXPECT_EQ(stats.probes_ok, 900U);
  EXPECT_EQ(stats.probes_failed, 0U);
  EXPECT_EQ(stats.rounds_missed, 0U);
  EXPECT_EQ(stats.rounds_skipped, 0U);
  EXPECT_LE(stats.lag_quantile_ms(1.0), 4) << "a start waits less than one batch window (5 ms)";
  EXPECT_TRUE(reports.empty());
}

}  // namespace
}  // namespace galaxy::probe
