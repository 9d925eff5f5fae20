#include "galaxy/docker/client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/url/parse.hpp>
#include <fstream>
#include <sstream>

#include "fake_docker.hpp"

namespace galaxy::docker {
namespace {

using namespace galaxy::docker::testing;  // NOLINT(google-build-using-namespace)
using boost::system::error_code;
using namespace std::chrono_literals;

std::string read_testdata(const std::string& name) {
  std::ifstream in(std::string(GALAXY_DOCKER_TESTDATA) + "/" + name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string event_line(int n) {
  return R"({"Type":"container","Action":"start","Actor":{"ID":"c)" + std::to_string(n) +
         R"(","Attributes":{"name":"é-)" + std::to_string(n) + R"("}},"time":1,"timeNano":)" +
         std::to_string(1'000'000'000 + n) + "}\n";
}

constexpr std::string_view kChunkedOk =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

// For EXPECT_TRUE: a failed call shows its error.
::testing::AssertionResult succeeded(const Result<void>& r) {
  if (r) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << r.error().message();
}

std::string decode_query_param(const std::string& target, std::string_view key) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) {
    return "<bad target>";
  }
  for (auto p : url->params()) {
    if (p.key == key) {
      return p.value;
    }
  }
  return "<absent>";
}

class ClientTest : public ::testing::Test {
 protected:
  DockerClient make_client() {
    DockerClientSettings s;
    s.host = fake.host();
    s.connect_timeout = 5s;
    s.request_timeout = 5s;
    return {io.get_executor(), s};
  }

  struct Stream {
    Error ended;
    std::vector<DockerEvent> events;
    std::vector<Error> errors;
  };
  Stream stream(DockerClient& client, EventsQuery q = {}) {
    Stream out;
    out.ended = run(io, client.stream_events(std::move(q), [&](Result<DockerEvent> e) {
      if (e) {
        out.events.push_back(std::move(*e));
      } else {
        out.errors.push_back(e.error());
      }
    }));
    return out;
  }

  asio::io_context io;
  FakeDocker fake{io};
};

// --- version negotiation ----------------------------------------------------------------------

TEST_F(ClientTest, NegotiatesTheLowerVersionAndUsesItInPaths) {
  fake.api_version = "1.45";
  fake.answer(200, "[]");
  auto client = make_client();
  EXPECT_TRUE(succeeded(run(io, client.ping())));
  EXPECT_EQ(client.api_version(), (ApiVersion{1, 43}));
  ASSERT_TRUE(run(io, client.list_containers("galaxy.game_id")));
  EXPECT_TRUE(fake.targets.back().starts_with("/v1.43/containers/json?")) << fake.targets.back();
}

TEST_F(ClientTest, Version141IsUsedAsIs) {
  fake.api_version = "1.41";
  fake.answer(404, R"({"message":"No such container: abc"})");
  auto client = make_client();
  // No explicit ping: the first call negotiates.
  auto outcome = run(io, client.inspect("abc"));
  EXPECT_TRUE(std::holds_alternative<NotFound>(outcome));
  ASSERT_EQ(fake.targets.size(), 2U);
  EXPECT_EQ(fake.targets[0], "/_ping");
  EXPECT_EQ(fake.targets[1], "/v1.41/containers/abc/json");
}

TEST_F(ClientTest, Version140IsAClearError) {
  fake.api_version = "1.40";
  auto client = make_client();
  auto ping = run(io, client.ping());
  ASSERT_FALSE(ping);
  EXPECT_EQ(ping.error().kind, ErrorKind::protocol);
  auto v = run(io, client.negotiate());
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().reason.find("1.40"), std::string::npos) << v.error().message();
  auto list = run(io, client.list_containers("x"));
  ASSERT_FALSE(list);
  EXPECT_NE(list.error().reason.find("older than the minimum 1.41"), std::string::npos);
  EXPECT_EQ(list.error().kind, ErrorKind::protocol);
  const Error ended = stream(client).ended;
  EXPECT_EQ(ended.kind, ErrorKind::protocol);
  EXPECT_NE(ended.reason.find("1.40"), std::string::npos) << ended.message();
  for (const auto& t : fake.targets) {
    EXPECT_EQ(t, "/_ping");  // nothing else is attempted with an unsupported daemon
  }
}

// --- inspect ----------------------------------------------------------------------------------

TEST_F(ClientTest, InspectFound) {
  const std::string body = read_testdata("inspect_running_unhealthy.json");
  fake.answer(200, body);
  auto client = make_client();
  auto outcome = run(io, client.inspect("a7523b163780"));
  const auto* c = std::get_if<ContainerInspect>(&outcome);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->health, "unhealthy");
  EXPECT_EQ(c->networks.at("bridge"), "172.31.250.2");
  EXPECT_EQ(fake.requests.back().method(), http::verb::get);
}

TEST_F(ClientTest, InspectServerErrorIsAnErrorWithDockersMessage) {
  fake.answer(500, R"({"message":"driver failed"})");
  auto client = make_client();
  auto outcome = run(io, client.inspect("abc"));
  const auto* e = std::get_if<Error>(&outcome);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->path, "GET /v1.41/containers/abc/json");
  EXPECT_EQ(e->reason, "HTTP 500 driver failed");
  EXPECT_EQ(e->kind, ErrorKind::server);
  EXPECT_EQ(e->code, "500");
}

TEST_F(ClientTest, InspectGarbageResponsesAreErrors) {
  struct Garbage {
    std::string bytes;
    ErrorKind kind;
  };
  const std::vector<Garbage> garbage{
      {"this is not http\r\n\r\n", ErrorKind::protocol},
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nnope!", ErrorKind::protocol},       // not JSON
      {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"Id\":", ErrorKind::protocol},  // cut short
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", ErrorKind::protocol},  // wrong shape
      {"", ErrorKind::closed},                                                  // closed at once
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       ErrorKind::protocol},  // bad chunk size
  };
  for (const auto& g : garbage) {
    fake.script = [&](Socket& s, const Request&) -> asio::awaitable<void> {
      co_await send(s, g.bytes);
    };
    auto client = make_client();
    auto outcome = run(io, client.inspect("abc"));
    const auto* e = std::get_if<Error>(&outcome);
    ASSERT_NE(e, nullptr) << g.bytes;
    EXPECT_EQ(e->kind, g.kind) << g.bytes << " -> " << e->message();
    EXPECT_FALSE(is_cancelled(*e));
  }
}

TEST_F(ClientTest, ASilentServerHitsTheDeadline) {
  fake.script = [](Socket& s, const Request&) -> asio::awaitable<void> { co_await hang(s); };
  DockerClientSettings settings;
  settings.host = fake.host();
  settings.request_timeout = 200ms;
  DockerClient client(io.get_executor(), settings);
  ASSERT_TRUE(succeeded(run(io, client.ping())));
  auto outcome = run(io, client.inspect("abc"));
  const auto* e = std::get_if<Error>(&outcome);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->reason, error_code(asio::error::timed_out).message());
  EXPECT_EQ(e->kind, ErrorKind::timeout);
  const Error ended = stream(client).ended;  // no headers in time
  EXPECT_EQ(ended.kind, ErrorKind::timeout);
  EXPECT_EQ(ended.path, "GET /v1.41/events");

  // And a ping the daemon never answers.
  fake.answer_ping = false;
  auto ping = run(io, client.ping());
  ASSERT_FALSE(ping);
  EXPECT_EQ(ping.error().kind, ErrorKind::timeout);
}

TEST_F(ClientTest, AMissingSocketIsReportedAsSuch) {
  DockerClientSettings settings;
  settings.host = "unix:///nonexistent/galaxy/docker.sock";
  DockerClient client(io.get_executor(), settings);
  const std::string enoent =
      boost::system::errc::make_error_code(boost::system::errc::no_such_file_or_directory)
          .message();
  auto ping = run(io, client.ping());
  ASSERT_FALSE(ping);
  EXPECT_EQ(ping.error().kind, ErrorKind::io);
  EXPECT_EQ(ping.error().reason, enoent);
  const Error ended = stream(client).ended;
  EXPECT_EQ(ended.kind, ErrorKind::io);
  EXPECT_EQ(ended.reason, enoent);  // the cause, not a generic failure
  auto outcome = run(io, client.inspect("abc"));
  ASSERT_TRUE(std::holds_alternative<Error>(outcome));
  EXPECT_EQ(std::get<Error>(outcome).path, "GET /_ping");
  EXPECT_EQ(std::get<Error>(outcome).kind, ErrorKind::io);
}

TEST_F(ClientTest, InvalidContainerIdsAreRejectedBeforeAnyRequest) {
  auto client = make_client();
  for (std::string bad : {"", "../../info", "a/b", "id?x=1", "-lead"}) {
    auto outcome = run(io, client.inspect(bad));
    ASSERT_TRUE(std::holds_alternative<Error>(outcome)) << bad;
    EXPECT_EQ(std::get<Error>(outcome).kind, ErrorKind::invalid) << bad;
  }
  EXPECT_TRUE(fake.targets.empty());
}

TEST_F(ClientTest, ConcurrentInspectsDoNotQueueOnOneConnection) {
  // The server answers none until all of them have arrived: requests serialised on one
  // connection would never get there and would hit their deadline instead.
  constexpr int kCount = 50;
  int arrived = 0;
  asio::steady_timer all_in(io, asio::steady_timer::time_point::max());
  const std::string body = read_testdata("inspect_oom_killed.json");
  fake.script = [&](Socket& s, const Request&) -> asio::awaitable<void> {
    if (++arrived == kCount) {
      all_in.cancel();
    } else {
      co_await all_in.async_wait(kTok);
    }
    co_await send(s, response(200, body));
  };
  auto client = make_client();
  ASSERT_TRUE(succeeded(run(io, client.ping())));
  int found = 0;
  int done = 0;
  for (int i = 0; i < kCount; ++i) {
    asio::co_spawn(io, client.inspect("c" + std::to_string(i)),
                   [&](const std::exception_ptr&, const InspectOutcome& o) {
                     found += std::holds_alternative<ContainerInspect>(o) ? 1 : 0;
                     if (++done == kCount) {
                       io.stop();
                     }
                   });
  }
  io.restart();
  io.run();
  EXPECT_EQ(done, kCount);
  EXPECT_EQ(found, kCount);
}

// --- list -------------------------------------------------------------------------------------

TEST_F(ClientTest, ListSendsAllAndTheLabelFilter) {
  const std::string body = read_testdata("list.json");
  fake.answer(200, body);
  auto client = make_client();
  auto list = run(io, client.list_containers("galaxy.game_id"));
  ASSERT_TRUE(list) << list.error().message();
  EXPECT_EQ(list->size(), 3U);
  const std::string& target = fake.targets.back();
  EXPECT_EQ(decode_query_param(target, "all"), "true");
  EXPECT_EQ(decode_query_param(target, "filters"), R"({"label":["galaxy.game_id"]})");
}

TEST_F(ClientTest, ListErrorsCarryTheirKind) {
  fake.answer(503, R"({"message":"daemon is shutting down"})");
  auto client = make_client();
  auto failed = run(io, client.list_containers("galaxy.game_id"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, ErrorKind::server);
  EXPECT_EQ(failed.error().code, "503");
  EXPECT_EQ(failed.error().reason, "HTTP 503 daemon is shutting down");

  fake.answer(200, R"({"not":"a list"})");
  auto garbled = run(io, client.list_containers("galaxy.game_id"));
  ASSERT_FALSE(garbled);
  EXPECT_EQ(garbled.error().kind, ErrorKind::protocol);
  EXPECT_TRUE(garbled.error().path.starts_with("GET /v1.41/containers/json?"))
      << garbled.error().path;
}

TEST_F(ClientTest, PingErrorsCarryTheirKind) {
  fake.answer_ping = false;
  fake.answer(500, R"({"message":"boom"})");
  auto client = make_client();
  auto failed = run(io, client.ping());
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, ErrorKind::server);
  EXPECT_EQ(failed.error().code, "500");
  EXPECT_EQ(failed.error().path, "GET /_ping");

  fake.answer(200, "OK");  // no Api-Version header
  auto headerless = run(io, client.ping());
  ASSERT_FALSE(headerless);
  EXPECT_EQ(headerless.error().kind, ErrorKind::protocol);

  fake.script = [](Socket& s, const Request&) -> asio::awaitable<void> {
    co_await send(s, response(200, "OK", "Api-Version: one.forty\r\n"));
  };
  auto garbled = run(io, client.ping());
  ASSERT_FALSE(garbled);
  EXPECT_EQ(garbled.error().kind, ErrorKind::protocol);
  EXPECT_FALSE(client.api_version().has_value()) << "nothing was negotiated";
}

// --- events -----------------------------------------------------------------------------------

TEST_F(ClientTest, EventsSplitAtAwkwardBoundaries) {
  std::string body;
  for (int i = 0; i < 20; ++i) {
    body += event_line(i);
  }
  // Chunks of 1, 2, 3, ... bytes: boundaries fall inside JSON tokens, inside the two-byte 'é',
  // right before and after '\n'; TCP-level writes are split differently again.
  std::vector<std::string> pieces;
  for (std::size_t at = 0, n = 1; at < body.size(); at += n, ++n) {
    pieces.push_back(chunk(std::string_view(body).substr(at, n)));
  }
  fake.script = [&](Socket& s, const Request&) -> asio::awaitable<void> {
    co_await send(s, kChunkedOk);
    std::string joined;
    for (const auto& p : pieces) {
      joined += p;
    }
    joined += "0\r\n\r\n";
    for (std::size_t at = 0; at < joined.size(); at += 7) {
      co_await send(s, std::string_view(joined).substr(at, 7));
    }
  };
  auto client = make_client();
  EventsQuery q;
  q.labels = {"galaxy.game_id"};
  q.since_nano = 1'700'000'000'000'000'123;
  auto out = stream(client, q);
  EXPECT_EQ(out.ended.kind, ErrorKind::closed);
  EXPECT_FALSE(is_cancelled(out.ended));
  EXPECT_TRUE(out.errors.empty());
  ASSERT_EQ(out.events.size(), 20U);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(out.events[i].actor_id, "c" + std::to_string(i));
    EXPECT_EQ(out.events[i].attributes.at("name"), "é-" + std::to_string(i));
    EXPECT_EQ(out.events[i].time_nano, 1'000'000'000 + i);
  }
  const std::string& target = fake.targets.back();
  EXPECT_TRUE(target.starts_with("/v1.41/events?")) << target;
  EXPECT_EQ(decode_query_param(target, "since"), "1700000000.000000123");
  EXPECT_EQ(decode_query_param(target, "filters"),
            R"({"type":["container"],"label":["galaxy.game_id"]})");
}

TEST_F(ClientTest, AReplayWithUntilEndsCompleteOnlyAtItsLastChunk) {
  fake.script = [&](Socket& s, const Request&) -> asio::awaitable<void> {
    co_await send(s, kChunkedOk);
    co_await send(s, chunk(event_line(1) + event_line(2)));
    co_await send(s, "0\r\n\r\n");
  };
  auto client = make_client();
  EventsQuery q;
  q.since_nano = 1'700'000'000'000'000'123;
  q.until_nano = 1'700'000'005'000'000'000;
  auto out = stream(client, q);
  EXPECT_TRUE(is_complete(out.ended)) << out.ended.message();
  EXPECT_EQ(out.events.size(), 2U);
  EXPECT_EQ(decode_query_param(fake.targets.back(), "until"), "1700000005.000000000");

  // The same whole body without until is a stream Docker closed, not a finished replay.
  auto live = stream(client);
  EXPECT_FALSE(is_complete(live.ended));
  EXPECT_EQ(live.ended.kind, ErrorKind::closed);
  EXPECT_EQ(decode_query_param(fake.targets.back(), "until"), "<absent>");

  // A replay cut inside its body is a break, to be replayed again.
  fake.script = [&](Socket& s, const Request&) -> asio::awaitable<void> {
    co_await send(s, kChunkedOk);
    co_await send(s, chunk(event_line(1) + event_line(2).substr(0, 30)));
  };
  auto cut = stream(client, q);
  EXPECT_FALSE(is_complete(cut.ended)) << cut.ended.message();
  EXPECT_EQ(cut.events.size(), 1U);
}

TEST_F(ClientTest, ALineOverTheLimitIsReportedAndSkipped) {
  const std::string huge(std::size_t{3} << 20, 'x');  // 3 MiB without a newline
  fake.script = [&](Socket& s, const Request&) -> asio::awaitable<void> {
    co_await send(s, kChunkedOk);
    co_await send(s, chunk(event_line(1)));
    for (std::size_t at = 0; at < huge.size(); at += 100'000) {
      co_await send(s, chunk(std::string_view(huge).substr(at, 100'000)));
    }
    co_await send(s, chunk("\n" + event_line(2) + "not json\n"));
    co_await send(s, "0\r\n\r\n");
  };
  auto client = make_client();
  auto out = stream(client);
  EXPECT_EQ(out.ended.kind, ErrorKind::closed);
  EXPECT_FALSE(is_cancelled(out.ended));
  ASSERT_EQ(out.events.size(), 2U);
  EXPECT_EQ(out.events[0].actor_id, "c1");
  EXPECT_EQ(out.events[1].actor_id, "c2");
  ASSERT_EQ(out.errors.size(), 2U);
  EXPECT_NE(out.errors[0].reason.find("3145728 bytes exceeds the limit of 1048576"),
            std::string::npos)
      << out.errors[0].reason;
  EXPECT_EQ(out.errors[1].path, "/");  // the garbage line
}

TEST_F(ClientTest, MidStreamCloseEndsTheStream) {
  fake.script = [&](Socket& s, const Request&) -> asio::awaitable<void> {
    co_await send(s, kChunkedOk);
    co_await send(s, chunk(event_line(1) + event_line(2).substr(0, 30)));
    // returns: the server closes the connection inside a chunk, without the last-chunk
  };
  auto client = make_client();
  auto out = stream(client);
  EXPECT_EQ(out.ended.kind, ErrorKind::closed);
  EXPECT_FALSE(is_cancelled(out.ended));
  ASSERT_EQ(out.events.size(), 1U);
  EXPECT_TRUE(out.errors.empty());  // the cut line is not delivered as garbage
}

TEST_F(ClientTest, EventsServerErrorEndsWithHttpStatus) {
  fake.answer(500, R"({"message":"boom"})");
  auto client = make_client();
  const Error ended = stream(client).ended;
  EXPECT_EQ(ended.kind, ErrorKind::server);
  EXPECT_EQ(ended.code, "500");
  EXPECT_EQ(ended.message(), "GET /v1.41/events: HTTP 500");
}

TEST_F(ClientTest, EventsGarbageHeadersEndWithBadResponse) {
  fake.script = [](Socket& s, const Request&) -> asio::awaitable<void> {
    co_await send(s, "SSH-2.0-OpenSSH\r\n\r\n");
  };
  auto client = make_client();
  EXPECT_EQ(stream(client).ended.kind, ErrorKind::protocol);
}

TEST_F(ClientTest, AnIdleStreamOutlivesTheRequestDeadline) {
  // Docker sends nothing while nothing happens; the request deadline covers only the headers.
  asio::steady_timer later(io);
  fake.script = [&](Socket& s, const Request&) -> asio::awaitable<void> {
    co_await send(s, kChunkedOk);
    later.expires_after(300ms);
    co_await later.async_wait(kTok);
    co_await send(s, chunk(event_line(7)) + "0\r\n\r\n");
  };
  DockerClientSettings settings;
  settings.host = fake.host();
  settings.request_timeout = 100ms;
  DockerClient client(io.get_executor(), settings);
  auto out = stream(client);
  EXPECT_EQ(out.ended.kind, ErrorKind::closed);
  EXPECT_FALSE(is_cancelled(out.ended));
  ASSERT_EQ(out.events.size(), 1U);
  EXPECT_EQ(out.events[0].actor_id, "c7");
}

TEST_F(ClientTest, CancellingTheStreamEndsItAsCancelled) {
  fake.script = [&](Socket& s, const Request&) -> asio::awaitable<void> {
    co_await send(s, kChunkedOk);
    co_await send(s, chunk(event_line(1)));
    co_await hang(s);
  };
  auto client = make_client();
  asio::cancellation_signal cancel;
  std::vector<DockerEvent> events;
  std::optional<Error> ended;
  asio::co_spawn(
      io,
      client.stream_events({},
                           [&](Result<DockerEvent> e) {
                             ASSERT_TRUE(e);
                             events.push_back(*e);
                             // the caller's watchdog decides the daemon is gone
                             cancel.emit(asio::cancellation_type::terminal);
                           }),
      asio::bind_cancellation_slot(cancel.slot(), [&](const std::exception_ptr&, Error e) {
        ended = std::move(e);
        io.stop();
      }));
  io.run();
  ASSERT_TRUE(ended.has_value());
  EXPECT_TRUE(is_cancelled(*ended)) << ended->message();
  EXPECT_EQ(ended->kind, ErrorKind::closed);
  EXPECT_EQ(events.size(), 1U);
}

// Beast 1.81 asserts (debug builds) when a final chunk arrives as "0\r\n", "\r", "\n"; the
// client's own read loop must get through it. Real waits between the pieces keep them apart.
asio::awaitable<void> final_chunk_in_pieces(Socket& s, asio::steady_timer& t) {
  for (std::string_view piece : {"0\r\n", "\r", "\n"}) {
    t.expires_after(20ms);
    co_await t.async_wait(kTok);
    co_await send(s, piece);
  }
}

TEST_F(ClientTest, EmptyEventsStreamWhoseFinalChunkArrivesInPieces) {
  asio::steady_timer t(io);
  fake.script = [&](Socket& s, const Request&) -> asio::awaitable<void> {
    co_await send(s, kChunkedOk);
    co_await final_chunk_in_pieces(s, t);
  };
  auto client = make_client();
  auto out = stream(client);
  EXPECT_EQ(out.ended.kind, ErrorKind::closed);
  EXPECT_FALSE(is_cancelled(out.ended));
  EXPECT_TRUE(out.events.empty());
}

TEST_F(ClientTest, ChunkedInspectWhoseFinalChunkArrivesInPieces) {
  asio::steady_timer t(io);
  const std::string body = read_testdata("inspect_created.json");
  fake.script = [&](Socket& s, const Request&) -> asio::awaitable<void> {
    co_await send(s, std::string(kChunkedOk) + chunk(body));
    co_await final_chunk_in_pieces(s, t);
  };
  auto client = make_client();
  auto outcome = run(io, client.inspect("abc"));
  ASSERT_TRUE(std::holds_alternative<ContainerInspect>(outcome));
  EXPECT_EQ(std::get<ContainerInspect>(outcome).status, "created");
}

// --- lifecycle --------------------------------------------------------------------------------

TEST_F(ClientTest, CreateSendsExactlyTheSpecsFields) {
  fake.answer(201, R"({"Id":"abc123","Warnings":[]})");
  auto client = make_client();
  ContainerCreate spec;
  spec.name = "engine-1";
  spec.image = "galaxy/fake-engine:test";
  spec.cmd = {"/engine", "--exit-code", "3"};
  spec.env = {"GALAXY_GAME_ID=g-1", "EMPTY="};
  spec.labels = {{"galaxy.game_id", "g-1"}, {"galaxy.owner", "rtm"}};
  spec.memory_bytes = std::int64_t{32} << 20;
  spec.nano_cpus = 500'000'000;
  spec.network = "galaxy-engines";
  auto id = run(io, client.create_container(spec));
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(*id, "abc123");
  const auto& create = fake.requests.back();
  EXPECT_EQ(create.method(), http::verb::post);
  EXPECT_EQ(create.target(), "/v1.41/containers/create?name=engine-1");
  EXPECT_EQ(create[http::field::content_type], "application/json");
  // Compared as a string, not as parsed JSON: nothing beyond these fields may reach Docker.
  EXPECT_EQ(create.body(),
            R"({"Image":"galaxy/fake-engine:test","Cmd":["/engine","--exit-code","3"],)"
            R"("Env":["GALAXY_GAME_ID=g-1","EMPTY="],)"
            R"("Labels":{"galaxy.game_id":"g-1","galaxy.owner":"rtm"},)"
            R"("HostConfig":{"Memory":33554432,"MemorySwap":33554432,"NanoCpus":500000000,)"
            R"("NetworkMode":"galaxy-engines"}})");
}

TEST_F(ClientTest, CreateWithOnlyAnImageLeavesTheRestToDocker) {
  fake.answer(201, R"({"Id":"abc123","Warnings":[]})");
  auto client = make_client();
  ContainerCreate spec;
  spec.image = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  ASSERT_TRUE(run(io, client.create_container(spec)));
  const auto& create = fake.requests.back();
  EXPECT_EQ(create.target(), "/v1.41/containers/create");  // no name: Docker chooses
  EXPECT_EQ(create.body(), R"({"Image":")" + spec.image + R"(","Labels":{},"HostConfig":{}})");
}

TEST_F(ClientTest, CreateErrorsCarryTheStatusAndDockersMessage) {
  ContainerCreate spec;
  spec.name = "engine-1";
  spec.image = "galaxy/missing:1";
  auto client = make_client();

  fake.answer(404, R"({"message":"No such image: galaxy/missing:1"})");
  auto missing = run(io, client.create_container(spec));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::server);
  EXPECT_EQ(missing.error().code, "404");
  EXPECT_EQ(missing.error().reason, "HTTP 404 No such image: galaxy/missing:1");
  EXPECT_EQ(missing.error().path, "POST /v1.41/containers/create?name=engine-1");

  fake.answer(409, R"({"message":"Conflict. The container name \"/engine-1\" is already in use"})");
  auto taken = run(io, client.create_container(spec));
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().kind, ErrorKind::server);
  EXPECT_EQ(taken.error().code, "409");
  EXPECT_NE(taken.error().reason.find("is already in use"), std::string::npos);

  // A 201 without an Id: the daemon is not speaking the API we think.
  for (const std::string body : {R"({"Warnings":[]})", R"({"Id":""})", "[]", "not json"}) {
    fake.answer(201, body);
    auto odd = run(io, client.create_container(spec));
    ASSERT_FALSE(odd) << body;
    EXPECT_EQ(odd.error().kind, ErrorKind::protocol) << body;
  }
}

TEST_F(ClientTest, StartTakesAlreadyStartedAsSuccess) {
  auto client = make_client();
  fake.answer(204, "");
  EXPECT_TRUE(succeeded(run(io, client.start_container("abc123"))));
  EXPECT_EQ(fake.requests.back().method(), http::verb::post);
  EXPECT_EQ(fake.targets.back(), "/v1.41/containers/abc123/start");
  EXPECT_TRUE(fake.requests.back().body().empty());

  fake.answer(304, "");
  EXPECT_TRUE(succeeded(run(io, client.start_container("abc123"))));

  fake.answer(404, R"({"message":"No such container: abc123"})");
  auto gone = run(io, client.start_container("abc123"));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::server);
  EXPECT_EQ(gone.error().code, "404");
}

TEST_F(ClientTest, StopSendsTheTimeoutAndTakesAlreadyStoppedAsSuccess) {
  auto client = make_client();
  fake.answer(204, "");
  EXPECT_TRUE(succeeded(run(io, client.stop_container("abc123", 7s))));
  EXPECT_EQ(fake.requests.back().method(), http::verb::post);
  EXPECT_EQ(fake.targets.back(), "/v1.41/containers/abc123/stop?t=7");

  fake.answer(304, "");
  EXPECT_TRUE(succeeded(run(io, client.stop_container("abc123", 0s))));
  EXPECT_EQ(fake.targets.back(), "/v1.41/containers/abc123/stop?t=0");

  fake.answer(500, R"({"message":"stop failed"})");
  auto failed = run(io, client.stop_container("abc123", 1s));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, ErrorKind::server);
  EXPECT_EQ(failed.error().code, "500");
  EXPECT_EQ(failed.error().message(),
            "POST /v1.41/containers/abc123/stop?t=1: HTTP 500 stop failed");
}

TEST_F(ClientTest, StopWaitsForTheTimeoutBeyondTheRequestDeadline) {
  // Docker answers a stop only after the container is down, up to t seconds later.
  asio::steady_timer later(io);
  fake.script = [&](Socket& s, const Request&) -> asio::awaitable<void> {
    later.expires_after(600ms);
    co_await later.async_wait(kTok);
    co_await send(s, response(204, ""));
  };
  DockerClientSettings settings;
  settings.host = fake.host();
  settings.request_timeout = 200ms;
  DockerClient client(io.get_executor(), settings);
  EXPECT_TRUE(succeeded(run(io, client.stop_container("abc123", 1s))));

  // Without a timeout to wait for, the request deadline alone applies.
  auto late = run(io, client.stop_container("abc123", 0s));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().kind, ErrorKind::timeout);
}

TEST_F(ClientTest, RemoveSendsForceAndReportsAMissingContainerAs404) {
  auto client = make_client();
  fake.answer(204, "");
  EXPECT_TRUE(succeeded(run(io, client.remove_container("abc123", true))));
  EXPECT_EQ(fake.requests.back().method(), http::verb::delete_);
  EXPECT_EQ(fake.targets.back(), "/v1.41/containers/abc123?force=true");
  EXPECT_TRUE(succeeded(run(io, client.remove_container("abc123", false))));
  EXPECT_EQ(fake.targets.back(), "/v1.41/containers/abc123?force=false");

  fake.answer(404, R"({"message":"No such container: abc123"})");
  auto gone = run(io, client.remove_container("abc123", true));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::server);
  EXPECT_EQ(gone.error().code, "404");
  EXPECT_EQ(gone.error().reason, "HTTP 404 No such container: abc123");

  fake.answer(409, R"({"message":"You cannot remove a running container"})");
  auto running = run(io, client.remove_container("abc123", false));
  ASSERT_FALSE(running);
  EXPECT_EQ(running.error().code, "409");
}

TEST_F(ClientTest, ImageExists) {
  auto client = make_client();
  fake.answer(200, R"({"Id":"sha256:0123","RepoTags":["galaxy/fake-engine:test"]})");
  auto found = run(io, client.image_exists("galaxy/fake-engine:test"));
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_TRUE(*found);
  EXPECT_EQ(fake.requests.back().method(), http::verb::get);
  // The repository's slashes stay path separators, as Docker's route and CLI have them.
  EXPECT_EQ(fake.targets.back(), "/v1.41/images/galaxy/fake-engine:test/json");

  const std::string digest =
      "registry.local:5000/team/engine@sha256:"
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  ASSERT_TRUE(run(io, client.image_exists(digest)));
  EXPECT_EQ(fake.targets.back(), "/v1.41/images/" + digest + "/json");

  fake.answer(404, R"({"message":"No such image: galaxy/missing:1"})");
  auto missing = run(io, client.image_exists("galaxy/missing:1"));
  ASSERT_TRUE(missing) << missing.error().message();
  EXPECT_FALSE(*missing);

  fake.answer(500, R"({"message":"boom"})");
  auto failed = run(io, client.image_exists("galaxy/fake-engine:test"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, ErrorKind::server);
  EXPECT_EQ(failed.error().code, "500");

  fake.answer(200, "[]");
  auto odd = run(io, client.image_exists("galaxy/fake-engine:test"));
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().kind, ErrorKind::protocol);
}

TEST_F(ClientTest, BadLifecycleArgumentsAreRejectedBeforeAnyRequest) {
  auto client = make_client();
  const std::vector<std::string> bad_refs{"",
                                          "../info",
                                          "galaxy/../../info",
                                          "a/./b",
                                          "/galaxy/engine",
                                          "galaxy//engine",
                                          "galaxy/",
                                          "a b",
                                          "a?x=1",
                                          "a#frag",
                                          "a%2F..",
                                          "a\\b",
                                          "-rm",
                                          ".hidden",
                                          "galaxy/.engine",
                                          "a\nb",
                                          std::string(600, 'a')};
  for (const auto& ref : bad_refs) {
    auto exists = run(io, client.image_exists(ref));
    ASSERT_FALSE(exists) << ref;
    EXPECT_EQ(exists.error().kind, ErrorKind::invalid) << ref;
    ContainerCreate spec;
    spec.image = ref;
    auto created = run(io, client.create_container(spec));
    ASSERT_FALSE(created) << ref;
    EXPECT_EQ(created.error().kind, ErrorKind::invalid) << ref;
    EXPECT_EQ(created.error().path, "/image") << ref;
  }

  ContainerCreate base;
  base.image = "galaxy/fake-engine:test";
  std::vector<std::pair<ContainerCreate, std::string>> bad_specs;
  for (const std::string network : {"host", "container:abc123", "../x"}) {
    ContainerCreate s = base;
    s.network = network;
    bad_specs.emplace_back(s, "/network");
  }
  for (const std::string name : {"a/b", "x?y", "-x"}) {
    ContainerCreate s = base;
    s.name = name;
    bad_specs.emplace_back(s, "/name");
  }
  ContainerCreate negative = base;
  negative.memory_bytes = -1;
  bad_specs.emplace_back(negative, "/memory_bytes");
  negative = base;
  negative.nano_cpus = -1;
  bad_specs.emplace_back(negative, "/nano_cpus");
  for (const auto& [spec, path] : bad_specs) {
    auto created = run(io, client.create_container(spec));
    ASSERT_FALSE(created) << path;
    EXPECT_EQ(created.error().kind, ErrorKind::invalid) << path;
    EXPECT_EQ(created.error().path, path);
  }

  for (std::string bad : {"", "../../info", "a/b", "id?x=1", "-lead"}) {
    EXPECT_EQ(run(io, client.start_container(bad)).error().kind, ErrorKind::invalid) << bad;
    EXPECT_EQ(run(io, client.stop_container(bad, 1s)).error().kind, ErrorKind::invalid) << bad;
    EXPECT_EQ(run(io, client.remove_container(bad, true)).error().kind, ErrorKind::invalid) << bad;
  }
  EXPECT_EQ(run(io, client.stop_container("abc123", -1s)).error().kind, ErrorKind::invalid);
  EXPECT_TRUE(fake.targets.empty()) << fake.targets.front();
}

// --- TCP ----------------------------------------------------------------------------------------

// Forwards each TCP connection on 127.0.0.1 to the fake daemon's unix socket, so the TCP path of
// the client meets the same scripts.
class TcpRelay {
 public:
  TcpRelay(asio::io_context& io, std::string unix_path)
      : io_(io),
        path_(std::move(unix_path)),
        acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(io, accept_loop(), asio::detached);
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }

 private:
  template <class From, class To>
  static asio::awaitable<void> pipe(From& from, To& to) {
    std::array<char, 4096> buf{};
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), kTok);
      if (ec) {
        boost::system::error_code ignored;
        to.shutdown(asio::socket_base::shutdown_send, ignored);
        co_return;
      }
      auto [wec, w] = co_await asio::async_write(to, asio::buffer(buf.data(), n), kTok);
      if (wec) {
        co_return;
      }
    }
  }
  asio::awaitable<void> relay(asio::ip::tcp::socket tcp) {
    Socket local(io_);
    auto [ec] = co_await local.async_connect(asio::local::stream_protocol::endpoint(path_), kTok);
    if (ec) {
      co_return;
    }
    using namespace boost::asio::experimental::
        awaitable_operators;  // NOLINT(google-build-using-namespace)
    co_await (pipe(tcp, local) && pipe(local, tcp));
  }
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, s] = co_await acceptor_.async_accept(kTok);
      if (ec) {
        co_return;
      }
      asio::co_spawn(io_, relay(std::move(s)), asio::detached);
    }
  }

  asio::io_context& io_;
  std::string path_;
  asio::ip::tcp::acceptor acceptor_;
};

TEST_F(ClientTest, TcpDockerHost) {
  TcpRelay relay(io, fake.host().substr(std::string_view("unix://").size()));
  const std::string body = read_testdata("inspect_oom_killed.json");
  fake.script = [&](Socket& s, const Request& req) -> asio::awaitable<void> {
    if (req.target().find("/events") != std::string_view::npos) {
      co_await send(s,
                    std::string(kChunkedOk) + chunk(event_line(1) + event_line(2)) + "0\r\n\r\n");
    } else {
      co_await send(s, response(200, body));
    }
  };
  for (const std::string host : {"127.0.0.1", "localhost"}) {  // literal, and through the resolver
    DockerClientSettings settings;
    settings.host = "tcp://" + host + ":" + std::to_string(relay.port());
    DockerClient client(io.get_executor(), settings);
    EXPECT_TRUE(succeeded(run(io, client.ping()))) << host;
    auto outcome = run(io, client.inspect("abc"));
    ASSERT_TRUE(std::holds_alternative<ContainerInspect>(outcome)) << host;
    EXPECT_TRUE(std::get<ContainerInspect>(outcome).oom_killed);
    std::vector<std::string> ids;
    auto ended = run(io, client.stream_events({}, [&](Result<DockerEvent> e) {
      ASSERT_TRUE(e);
      ids.push_back(e->actor_id);
    }));
    EXPECT_EQ(ended.kind, ErrorKind::closed);
    EXPECT_EQ(ids, (std::vector<std::string>{"c1", "c2"}));
    EXPECT_EQ(fake.requests.back()[http::field::host], host + ":" + std::to_string(relay.port()));
  }
}

TEST_F(ClientTest, TcpConnectionRefused) {
  asio::ip::tcp::acceptor closed(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = closed.local_endpoint().port();
  closed.close();
  DockerClientSettings settings;
  settings.host = "tcp://127.0.0.1:" + std::to_string(port);
  DockerClient client(io.get_executor(), settings);
  auto ping = run(io, client.ping());
  ASSERT_FALSE(ping);
  EXPECT_EQ(ping.error().kind, ErrorKind::io);
  EXPECT_EQ(ping.error().reason, error_code(asio::error::connection_refused).message());
}

// --- DOCKER_HOST --------------------------------------------------------------------------------

TEST(ParseDockerHost, UnixAndTcp) {
  EXPECT_EQ(parse_docker_host("unix:///var/run/docker.sock").value(),
            DockerEndpoint(UnixEndpoint{"/var/run/docker.sock"}));
  EXPECT_EQ(parse_docker_host("tcp://127.0.0.1:2375").value(),
            DockerEndpoint(TcpEndpoint{"127.0.0.1", "2375"}));
  EXPECT_EQ(parse_docker_host("tcp://docker.internal").value(),
            DockerEndpoint(TcpEndpoint{"docker.internal", "2375"}));
  EXPECT_EQ(parse_docker_host("tcp://[::1]:2376/").value(),
            DockerEndpoint(TcpEndpoint{"::1", "2376"}));
  for (std::string_view bad : {"", "/var/run/docker.sock", "unix://relative", "tcp://:2375",
                               "tcp://host:port", "npipe:////./pipe/docker_engine"}) {
    EXPECT_FALSE(parse_docker_host(bad)) << bad;
  }
  DockerClientSettings s;
  s.host = "ssh://user@host";
  EXPECT_THROW(DockerClient(asio::system_executor(), s), ErrorException);
}

}  // namespace
}  // namespace galaxy::docker
