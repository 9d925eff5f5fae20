// galaxy-health engines end to end against a fake engines API: a thread in this test answering
// canned responses on a unix socket in a temporary folder, recording each request it got. Checks
// what the CLI sends (method, target, Authorization, body) and what it prints and returns for a
// created record, API errors, a socket nobody listens on, and a daemon that never answers.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "galaxy/cli/command_line.hpp"
#include "galaxy/testsupport/process.hpp"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
namespace ts = galaxy::testsupport;
using local = asio::local::stream_protocol;
using namespace std::chrono_literals;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

// A folder of its own under /tmp: socket paths must stay under 108 bytes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/gh-engines-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct Canned {
  unsigned status = 200;
  std::string body;
  bool silent = false;  // read the request, then never answer (the connection stays open)
};

struct Seen {
  std::string method;
  std::string target;
  std::optional<std::string> authorization;
  std::string content_type;
  std::string body;
};

// Answers one connection per canned response, in order, then stops accepting.
class FakeApi {
 public:
  FakeApi(const std::string& socket_path, std::vector<Canned> answers)
      : acceptor_(ioc_, local::endpoint(socket_path)), answers_(std::move(answers)) {
    asio::co_spawn(ioc_, serve(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  FakeApi(const FakeApi&) = delete;
  FakeApi& operator=(const FakeApi&) = delete;
  ~FakeApi() {
    ioc_.stop();
    thread_.join();
  }

  std::vector<Seen> seen() const {
    const std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  asio::awaitable<void> serve() {
    for (const auto& answer : answers_) {
      auto [aec, sock] = co_await acceptor_.async_accept(kTok);
      if (aec) {
        co_return;
      }
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> req;
      auto [rec, n] = co_await http::async_read(sock, buffer, req, kTok);
      static_cast<void>(n);
      if (rec) {
        continue;
      }
      {
        const std::lock_guard lock(mu_);
        Seen s{std::string(req.method_string()), std::string(req.target()), std::nullopt,
               std::string(req[http::field::content_type]), req.body()};
        if (req.find(http::field::authorization) != req.end()) {
          s.authorization = std::string(req[http::field::authorization]);
        }
        seen_.push_back(std::move(s));
      }
      if (answer.silent) {
        held_.push_back(std::move(sock));
        continue;
      }
      http::response<http::string_body> res{static_cast<http::status>(answer.status), 11};
      res.set(http::field::content_type, "application/json");
      res.body() = answer.body;
      res.keep_alive(false);
      res.prepare_payload();
      auto [wec, w] = co_await http::async_write(sock, res, kTok);
      static_cast<void>(wec);
      static_cast<void>(w);
    }
  }

  asio::io_context ioc_;
  local::acceptor acceptor_;
  std::vector<Canned> answers_;
  std::vector<local::socket> held_;
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  std::thread thread_;
};

struct Ran {
  int exit_code = -1;
  std::string out;
  std::string err;
};

Ran run_cli(const std::vector<std::string>& args) {
  galaxy::cli::CommandLine cli;
  std::ostringstream out;
  std::ostringstream err;
  if (auto code = cli.parse(args, out, err)) {
    return {*code, out.str(), err.str()};
  }
  std::istringstream in;
  const int code = cli.run(in, out, err, false);
  return {code, out.str(), err.str()};
}

constexpr std::string_view kRecord = R"({"game_id":"game/1","host_id":"host-a","incarnation":1,
  "container_id":"7c2b5d1a4f6e0123456789abcdef",
  "spec":{"game_id":"game/1","image":"registry.local/game:1.2"},
  "desired":"running","state":"running","action":null,"action_by":"ops","error":"",
  "created_at":"2026-04-02T09:00:00Z","updated_at":"2026-04-02T09:00:01Z",
  "docker":{"status":"running","running":true,"exit_code":0,"oom_killed":false,
            "started_at_ms":1775120400000,"finished_at_ms":null},
  "container_missing":false})";

constexpr std::string_view kRecordRow =
    "GAME    INCARNATION  CONTAINER     STATE    DESIRED  DOCKER STATUS  ACTION BY  UPDATED\n"
    "game/1  1            7c2b5d1a4f6e  running  running  running        ops        "
    "2026-04-02T09:00:01Z\n";

TEST(EnginesApi, RunSendsTheSpecWithTheTokenAndPrintsTheCreatedRecord) {
  const TempDir dir;
  const auto sock = dir.file("api.sock");
  const FakeApi api(sock, {{201, std::string(kRecord)}});
  const auto token_file = dir.file("token");
  std::ofstream(token_file) << "# galaxy-health's token\n\nops s3cret\n";

  const auto r = run_cli({"engines",
                          "run",
                          "--api",
                          "unix:" + sock,
                          "--token-file",
                          token_file,
                          "game/1",
                          "registry.local/game:1.2",
                          "--env",
                          "MODE=ranked",
                          "--env",
                          "EMPTY=",
                          "--label",
                          "team=core",
                          "--healthz-port",
                          "8080",
                          "--memory",
                          "64m",
                          "--cpus",
                          "0.5",
                          "--network",
                          "games",
                          "--",
                          "/bin/game",
                          "--port",
                          "8080"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, kRecordRow);

  const auto seen = api.seen();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/v1/engines");
  EXPECT_EQ(seen[0].authorization, "Bearer s3cret");
  EXPECT_EQ(seen[0].content_type, "application/json");
  EXPECT_EQ(json::parse(seen[0].body), json::parse(R"({
    "game_id": "game/1", "image": "registry.local/game:1.2",
    "cmd": ["/bin/game", "--port", "8080"],
    "env": {"MODE": "ranked", "EMPTY": ""}, "labels": {"team": "core"},
    "healthz": {"port": 8080, "path": "/healthz"},
    "memory_bytes": 67108864, "cpus": 0.5, "network": "games"})"))
      << seen[0].body;
}

TEST(EnginesApi, AConflictIsPrintedAsTheApiSaidItAndExitsOne) {
  const TempDir dir;
  const auto sock = dir.file("api.sock");
  const FakeApi api(
      sock,
      {{409,
        R"({"error":{"code":"action_in_progress","message":"a restart of game/1 is in progress","field":""}})"}});
  const auto r = run_cli(
      {"engines", "stop", "game/1", "--timeout", "1500ms", "--api", "unix:" + sock, "-o", "json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "galaxy-health: action_in_progress: a restart of game/1 is in progress\n");
  const auto seen = api.seen();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/v1/engines/game%2F1/stop");
  EXPECT_EQ(seen[0].authorization, std::nullopt);  // no --token-file: no header at all
  EXPECT_EQ(seen[0].body, R"({"timeout_s":2})");   // rounded up to whole seconds
}

TEST(EnginesApi, AFieldErrorNamesTheField) {
  const TempDir dir;
  const auto sock = dir.file("api.sock");
  const FakeApi api(
      sock,
      {{422,
        R"({"error":{"code":"image_not_allowed","message":"not in the allow list","field":"image"}})"}});
  const auto r = run_cli({"engines", "--api", "unix:" + sock, "run", "g", "evil/img"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "galaxy-health: image_not_allowed: not in the allow list (field image)\n");
  ASSERT_EQ(api.seen().size(), 1U);
  EXPECT_EQ(api.seen()[0].body, R"({"game_id":"g","image":"evil/img"})");
}

TEST(EnginesApi, AnUnreachableSocketSaysWhichAddress) {
  const TempDir dir;
  const auto missing = dir.file("missing.sock");
  auto r = run_cli({"engines", "ls", "--api", "unix:" + missing});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "galaxy-health: cannot reach the API at unix:" + missing +
                       ": connect: No such file or directory\n");

  // A socket file that nobody listens on any more, as a stopped daemon leaves behind.
  const auto stale = dir.file("stale.sock");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", stale.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ::close(fd);
  r = run_cli({"engines", "show", "g", "--api", "unix:" + stale});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "galaxy-health: cannot reach the API at unix:" + stale +
                       ": connect: Connection refused\n");
}

TEST(EnginesApi, ADaemonThatNeverAnswersMeetsTheRequestDeadline) {
  const TempDir dir;
  const auto sock = dir.file("api.sock");
  const FakeApi api(sock, {{200, "", true}});
  const auto start = std::chrono::steady_clock::now();
  const auto r =
      run_cli({"engines", "restart", "g", "--api", "unix:" + sock, "--request-timeout", "300ms"});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "galaxy-health: the API at unix:" + sock +
                       ": no answer within 300ms (--request-timeout)\n");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  ASSERT_EQ(api.seen().size(), 1U);
  EXPECT_EQ(api.seen()[0].target, "/v1/engines/g/restart");
}

TEST(EnginesApi, AnAnswerThatIsNotTheContractExitsOne) {
  const TempDir dir;
  const auto sock = dir.file("api.sock");
  const FakeApi api(sock, {{200, "<html>ok</html>"}, {200, R"({"items":[]})"}, {204, ""}});
  const std::string url = "unix:" + sock;
  auto r = run_cli({"engines", "show", "g", "--api", url});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("answered GET /v1/engines/g with a body that is not JSON"),
            std::string::npos)
      << r.err;
  r = run_cli({"engines", "ls", "--api", url});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("without an \"engines\" array"), std::string::npos) << r.err;
  r = run_cli({"engines", "rm", "g", "--api", url});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("HTTP 204, not 200 or 201"), std::string::npos) << r.err;
}

// The built binary, with the address and token file from the environment.
TEST(EnginesApi, TheBinaryListsShowsAndRemovesThroughTheEnvironment) {
  const TempDir dir;
  const auto sock = dir.file("api.sock");
  const auto token_file = dir.file("token");
  std::ofstream(token_file) << "tok-1\n";
  const std::string list = R"({"engines":[)" + std::string(kRecord) + "]}";
  const FakeApi api(
      sock, {{200, list}, {200, list}, {200, std::string(kRecord)}, {200, std::string(kRecord)}});
  const std::vector<std::string> env{"env",
                                     "GALAXY_RM_API=unix:" + sock,
                                     "GALAXY_RM_TOKEN_FILE=" + token_file,
                                     "NO_COLOR=1",
                                     GALAXY_HEALTH_BIN,
                                     "engines"};
  auto with = [&env](std::vector<std::string> args) {
    auto argv = env;
    argv.insert(argv.end(), args.begin(), args.end());
    return ts::run(argv, 30s);
  };
  auto r = with({"ls"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, kRecordRow);
  r = with({"ls", "-o", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(json::parse(r.output), json::parse(list).at("engines"));
  r = with({"show", "game/1", "--no-headers"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output,
            "game/1  1  7c2b5d1a4f6e  running  running  running  ops  2026-04-02T09:00:01Z\n");
  r = with({"rm", "game/1", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(json::parse(r.output), json::parse(kRecord));

  const auto seen = api.seen();
  ASSERT_EQ(seen.size(), 4U);
  EXPECT_EQ(seen[0].method + " " + seen[0].target, "GET /v1/engines");
  EXPECT_EQ(seen[2].method + " " + seen[2].target, "GET /v1/engines/game%2F1");
  EXPECT_EQ(seen[3].method + " " + seen[3].target, "DELETE /v1/engines/game%2F1");
  for (const auto& s : seen) {
    EXPECT_EQ(s.authorization, "Bearer tok-1");
    EXPECT_EQ(s.body, "");
  }
}

}  // namespace
