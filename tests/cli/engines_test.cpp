// galaxy-health engines without a daemon: its flags (usage errors exit 2 and name the flag), the
// SIZE and KEY=VALUE parsers, --api and token files, the requests it would send (method, target
// with the game ID percent-encoded, body exactly as the API's contract has it), and how records
// and API errors are printed.
#include "galaxy/cli/engines.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "galaxy/cli/api_client.hpp"
#include "galaxy/cli/command_line.hpp"

namespace {

namespace cli = galaxy::cli;
namespace json = boost::json;
using cli::ApiRequest;
using cli::OutputFormat;
using cli::OutputOptions;

// --- flags ---------------------------------------------------------------------------------------

struct Parsed {
  std::optional<int> exit_code;
  std::string out;
  std::string err;
};

Parsed parse(std::vector<std::string> args) {
  cli::CommandLine line;
  std::ostringstream out;
  std::ostringstream err;
  auto code = line.parse(std::move(args), out, err);
  return {code, out.str(), err.str()};
}

TEST(EnginesCommandLine, UsageErrorsExitTwoAndNameTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"engines"}, "A subcommand is required"},
      {{"engines", "start"}, "start"},
      {{"engines", "run", "g"}, "image is required"},
      {{"engines", "run", "g", "img", "--env", "FOO"}, "--env: 'FOO' is not KEY=VALUE"},
      {{"engines", "run", "g", "img", "--env", "=x"}, "--env: '=x' has an empty KEY"},
      {{"engines", "run", "g", "img", "--label", "team"}, "--label: 'team' is not KEY=VALUE"},
      {{"engines", "run", "g", "img", "--memory", "64x"}, "--memory: '64x': unknown unit 'x'"},
      {{"engines", "run", "g", "img", "--memory", "lots"}, "--memory: 'lots' is not a size"},
      {{"engines", "run", "g", "img", "--memory", "0"}, "--memory: '0': must be more than 0"},
      {{"engines", "run", "g", "img", "--cpus", "0"}, "--cpus: '0' is not a number of CPUs"},
      {{"engines", "run", "g", "img", "--cpus", "nan"}, "--cpus"},
      {{"engines", "run", "g", "img", "--cpus", "two"}, "--cpus"},
      {{"engines", "run", "g", "img", "--healthz-port", "0"}, "--healthz-port"},
      {{"engines", "run", "g", "img", "--healthz-port", "70000"}, "--healthz-port"},
      {{"engines", "run", "g", "img", "--healthz-path", "/h"}, "requires --healthz-port"},
      {{"engines", "run", "g", "img", "--healthz-port", "80", "--healthz-path", "h"},
       "does not start with /"},
      {{"engines", "run", "g", "img", "sh", "-c", "x"}, "-c"},  // a command needs --
      {{"engines", "ls", "extra"}, "extra"},
      {{"engines", "ls", "-o", "yaml"}, "yaml not in {table,wide,json}"},
      {{"engines", "ls", "--json", "-o", "wide"}, "excludes"},
      {{"engines", "show"}, "game is required"},
      {{"engines", "show", "g", "h"}, "h"},
      {{"engines", "stop", "g", "--timeout", "soon"}, "--timeout"},
      {{"engines", "restart"}, "game is required"},
      {{"engines", "rm"}, "game is required"},
      {{"engines", "ls", "--api", "https://h:1"}, "--api: must be unix:"},
      {{"engines", "--api", "unix:relative.sock", "ls"}, "--api: unix: needs an absolute"},
      {{"engines", "ls", "--request-timeout", "forever"}, "--request-timeout"},
      {{"--api", "unix:/x.sock", "engines", "ls"}, "--api"},  // engines' flag, not the program's
  };
  for (const auto& [args, message] : cases) {
    const auto r = parse(args);
    std::string argv;
    for (const auto& a : args) {
      argv += " " + a;
    }
    EXPECT_EQ(r.exit_code, 2) << "galaxy-health" << argv;
    EXPECT_NE(r.err.find(message), std::string::npos) << "galaxy-health" << argv << ": " << r.err;
    EXPECT_EQ(r.out, "") << argv;
  }
}

TEST(EnginesCommandLine, ValidArgumentsLeaveTheRunToRun) {
  for (const std::vector<std::string>& args : {
           std::vector<std::string>{"engines", "ls"},
           {"engines", "ls", "-o", "wide", "--no-headers"},
           {"engines", "--api", "http://127.0.0.1:8080", "ls", "--json"},
           {"engines", "ls", "--api", "unix:/run/x.sock", "--token-file", "/t"},
           {"engines", "run", "g", "img"},
           {"engines",
            "run",
            "g",
            "img",
            "--env",
            "A=",
            "--env",
            "B=c=d",
            "--label",
            "x=y",
            "--healthz-port",
            "8080",
            "--healthz-path",
            "/ready",
            "--memory",
            "1g",
            "--cpus",
            "1.5",
            "--network",
            "games",
            "--",
            "sh",
            "-c",
            "echo --env"},
           {"engines", "show", "g", "-o", "json"},
           {"engines", "stop", "g", "--timeout", "30s"},
           {"engines", "restart", "g"},
           {"engines", "rm", "g", "--request-timeout", "10s"},
       }) {
    const auto r = parse(args);
    EXPECT_EQ(r.exit_code, std::nullopt) << args[1] << ": " << r.err;
  }
}

TEST(EnginesCommandLine, HelpSaysSizesAre1024Based) {
  const auto r = parse({"engines", "run", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("1024-based"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--env"), std::string::npos);
  const auto top = parse({"engines", "--help"});
  for (const auto* word : {"--api", "GALAXY_RM_API", "--token-file", "GALAXY_RM_TOKEN_FILE",
                           "--request-timeout", "run", "ls", "show", "stop", "restart", "rm"}) {
    EXPECT_NE(top.out.find(word), std::string::npos) << word << top.out;
  }
}

// Checks that pass the parser but need the values together.
TEST(EnginesCommandLine, EmptyIdsAndRepeatedKeysAreUsageErrors) {
  for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"engines", "run", "g", "img", "--env", "A=1", "--env", "A=2"}, "--env: A given twice"},
           {{"engines", "run", "g", "img", "--label", "t=1", "--label", "t=1"},
            "--label: t given twice"},
           {{"engines", "run", "", "img"}, "GAME and IMAGE must not be empty"},
           {{"engines", "show", ""}, "GAME must not be empty"},
       }) {
    cli::CommandLine line;
    std::ostringstream out;
    std::ostringstream err;
    ASSERT_EQ(line.parse(args, out, err), std::nullopt) << err.str();
    std::istringstream in;
    EXPECT_EQ(line.run(in, out, err, false), 2) << message;
    EXPECT_NE(err.str().find(message), std::string::npos) << err.str();
    EXPECT_EQ(out.str(), "");
  }
}

// --- parsers -------------------------------------------------------------------------------------

TEST(ParseSize, UnitsAre1024Based) {
  EXPECT_EQ(cli::parse_size("1").value(), 1);
  EXPECT_EQ(cli::parse_size("4096").value(), 4096);
  EXPECT_EQ(cli::parse_size("512k").value(), 512 * 1024);
  EXPECT_EQ(cli::parse_size("512K").value(), 512 * 1024);
  EXPECT_EQ(cli::parse_size("64m").value(), 64 * 1024 * 1024);
  EXPECT_EQ(cli::parse_size("64M").value(), 64 * 1024 * 1024);
  EXPECT_EQ(cli::parse_size("1g").value(), std::int64_t{1} << 30U);
  EXPECT_EQ(cli::parse_size("3G").value(), std::int64_t{3} << 30U);
  EXPECT_EQ(cli::parse_size("8589934591g").value(), std::int64_t{8589934591} << 30U);
  EXPECT_EQ(cli::parse_size("9223372036854775807").value(), INT64_MAX);
}

TEST(ParseSize, ErrorsSayWhatIsWrong) {
  auto reason = [](std::string_view text) {
    auto r = cli::parse_size(text);
    EXPECT_FALSE(r) << text;
    return r ? std::string() : r.error().reason;
  };
  EXPECT_EQ(reason(""), "empty: expected a size like 64m, 1g, 512k or a number of bytes");
  EXPECT_EQ(reason("m"), "'m' is not a size like 64m, 1g, 512k or a number of bytes");
  EXPECT_EQ(reason("-1m"), "'-1m' is not a size like 64m, 1g, 512k or a number of bytes");
  EXPECT_EQ(reason(" 1m"), "' 1m' is not a size like 64m, 1g, 512k or a number of bytes");
  EXPECT_EQ(reason("64mb"), "'64mb': unknown unit 'mb' (k, m or g, 1024-based; none for bytes)");
  EXPECT_EQ(reason("1.5g"), "'1.5g': unknown unit '.5g' (k, m or g, 1024-based; none for bytes)");
  EXPECT_EQ(reason("1t"), "'1t': unknown unit 't' (k, m or g, 1024-based; none for bytes)");
  EXPECT_EQ(reason("0"), "'0': must be more than 0");
  EXPECT_EQ(reason("0k"), "'0k': must be more than 0");
  EXPECT_EQ(reason("8589934592g"), "'8589934592g' is too large");
  EXPECT_EQ(reason("9223372036854775808"), "'9223372036854775808' is too large");
  EXPECT_EQ(reason("99999999999999999999999"), "'99999999999999999999999' is too large");
}

TEST(ParseKeyValue, SplitsAtTheFirstEquals) {
  using KV = std::pair<std::string, std::string>;
  EXPECT_EQ(cli::parse_key_value("A=1", "--env").value(), KV("A", "1"));
  EXPECT_EQ(cli::parse_key_value("A=", "--env").value(), KV("A", ""));
  EXPECT_EQ(cli::parse_key_value("URL=http://x/?a=b", "--env").value(), KV("URL", "http://x/?a=b"));
  const auto missing = cli::parse_key_value("A", "--label");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "--label: 'A' is not KEY=VALUE (no '=' in it)");
  EXPECT_FALSE(cli::parse_key_value("=1", "--env"));
}

TEST(ParseApiUrl, UnixAndHttpOnly) {
  auto unix_sock = cli::parse_api_url("unix:/var/lib/x/api.sock");
  ASSERT_TRUE(unix_sock);
  EXPECT_TRUE(unix_sock->is_unix());
  EXPECT_EQ(unix_sock->socket_path, "/var/lib/x/api.sock");
  EXPECT_EQ(unix_sock->url, "unix:/var/lib/x/api.sock");
  EXPECT_EQ(cli::parse_api_url("unix:///run/api.sock")->socket_path, "/run/api.sock");
  EXPECT_EQ(cli::parse_api_url(cli::kDefaultApiUrl)->socket_path,
            "/var/lib/galaxy-runtime-manager/api.sock");

  auto http = cli::parse_api_url("http://127.0.0.1:8080");
  ASSERT_TRUE(http);
  EXPECT_FALSE(http->is_unix());
  EXPECT_EQ(http->host, "127.0.0.1");
  EXPECT_EQ(http->port, "8080");
  EXPECT_EQ(cli::parse_api_url("http://localhost:9/")->host, "localhost");
  EXPECT_EQ(cli::parse_api_url("http://[::1]:8080")->host, "::1");

  for (const auto* bad :
       {"", "unix:", "unix:api.sock", "http://host", "http://host:", "http://:80", "https://h:1",
        "http://u:p@h:1", "http://h:1/v1", "http://h:1?x", "tcp://h:1", "h:1", "/run/api.sock"}) {
    const auto r = cli::parse_api_url(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().path, "--api") << bad;
    }
  }
  EXPECT_FALSE(cli::parse_api_url("unix:/" + std::string(200, 'x')));
}

TEST(ParseToken, FirstUsefulLineLastWord) {
  EXPECT_EQ(cli::parse_token("s3cret\n").value(), "s3cret");
  EXPECT_EQ(cli::parse_token("s3cret").value(), "s3cret");
  EXPECT_EQ(cli::parse_token("ops s3cret\n").value(), "s3cret");
  EXPECT_EQ(cli::parse_token("# who: ops\n\n   \n  ops\t s3cret  \r\nother t2\n").value(),
            "s3cret");
  EXPECT_EQ(cli::parse_token("  # not a token\n\ttok\r\n").value(), "tok");
  for (const auto* none : {"", "\n\n", "# only a comment\n", "  \t\r\n#x"}) {
    const auto r = cli::parse_token(none);
    ASSERT_FALSE(r) << none;
    EXPECT_EQ(r.error().path, "--token-file");
  }
}

TEST(ReadTokenFile, NamesTheFile) {
  const auto missing = cli::read_token_file("/nonexistent/galaxy-token");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "--token-file: /nonexistent/galaxy-token: cannot open: No such file or directory");
  char path[] = "/tmp/galaxy-token-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << "# comment only\n";
  const auto empty = cli::read_token_file(path);
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message().find(path), std::string::npos);
  std::ofstream(path) << "deploy-bot abc123\n";
  EXPECT_EQ(cli::read_token_file(path).value(), "abc123");
  ::unlink(path);
}

// --- requests ------------------------------------------------------------------------------------

TEST(EngineRequests, MethodsAndTargets) {
  EXPECT_EQ(cli::list_request(), (ApiRequest{"GET", "/v1/engines", ""}));
  EXPECT_EQ(cli::show_request("game-1"), (ApiRequest{"GET", "/v1/engines/game-1", ""}));
  EXPECT_EQ(cli::stop_request("game-1", std::nullopt),
            (ApiRequest{"POST", "/v1/engines/game-1/stop", ""}));
  EXPECT_EQ(cli::stop_request("game-1", 30),
            (ApiRequest{"POST", "/v1/engines/game-1/stop", R"({"timeout_s":30})"}));
  EXPECT_EQ(cli::restart_request("game-1"), (ApiRequest{"POST", "/v1/engines/game-1/restart", ""}));
  EXPECT_EQ(cli::remove_request("game-1"), (ApiRequest{"DELETE", "/v1/engines/game-1", ""}));
}

TEST(EngineRequests, GameIdsArePercentEncodedAsOneSegment) {
  EXPECT_EQ(cli::show_request("a/b").target, "/v1/engines/a%2Fb");
  EXPECT_EQ(cli::show_request("a b?c#d%e").target, "/v1/engines/a%20b%3Fc%23d%25e");
  EXPECT_EQ(cli::stop_request("x/../y", std::nullopt).target, "/v1/engines/x%2F..%2Fy/stop");
  EXPECT_EQ(cli::restart_request("jeu-été").target, "/v1/engines/jeu-%C3%A9t%C3%A9/restart");
  EXPECT_EQ(cli::remove_request("~ok_-.").target, "/v1/engines/~ok_-.");
}

TEST(EngineRequests, RunBodyHasOnlyWhatWasGiven) {
  cli::EngineSpec spec;
  spec.game_id = "game-1";
  spec.image = "registry.local/game:1.2";
  EXPECT_EQ(cli::run_request(spec),
            (ApiRequest{"POST", "/v1/engines",
                        R"({"game_id":"game-1","image":"registry.local/game:1.2"})"}));

  spec.cmd = {"/bin/game", "--port", "8080"};
  spec.env = {{"MODE", "ranked"}, {"EMPTY", ""}};
  spec.labels = {{"team", "core"}};
  spec.healthz = cli::HealthzSpec{8080, "/healthz"};
  spec.memory_bytes = 64 * 1024 * 1024;
  spec.cpus = 1.5;
  spec.network = "games";
  const auto req = cli::run_request(spec);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/v1/engines");
  EXPECT_EQ(req.body, R"({"game_id":"game-1","image":"registry.local/game:1.2",)"
                      R"("cmd":["/bin/game","--port","8080"],"env":{"MODE":"ranked","EMPTY":""},)"
                      R"("labels":{"team":"core"},"healthz":{"port":8080,"path":"/healthz"},)"
                      R"("memory_bytes":67108864,"cpus":1.5E0,"network":"games"})");
  // Whatever the spelling of the number, it is the JSON number the contract asks for.
  const auto parsed = json::parse(req.body).as_object();
  EXPECT_TRUE(parsed.at("cpus").is_double());
  EXPECT_EQ(parsed.at("cpus").as_double(), 1.5);
  EXPECT_TRUE(parsed.at("memory_bytes").is_int64());
  EXPECT_TRUE(parsed.at("healthz").at("port").is_int64());
}

// --- rendering -----------------------------------------------------------------------------------

json::object running_record() {
  return json::parse(R"({"game_id":"game-1","host_id":"host-a","incarnation":3,
    "container_id":"7c2b5d1a4f6e0123456789abcdef",
    "spec":{"game_id":"game-1","image":"registry.local/game:1.2"},
    "desired":"running","state":"running","action":null,"action_by":"ops","error":"",
    "created_at":"2026-04-02T09:00:00Z","updated_at":"2026-04-02T09:23:30Z",
    "docker":{"status":"running","running":true,"exit_code":0,"oom_killed":false,
              "started_at_ms":1775121810000,"finished_at_ms":null},
    "container_missing":false})")
      .as_object();
}

json::object oom_record() {
  return json::parse(R"({"game_id":"jeu-été","host_id":"host-b","incarnation":12,
    "container_id":"0123456789abcdef",
    "spec":{"game_id":"jeu-été","image":"img:2"},
    "desired":"running","state":"failed","action":"restart","action_by":"deploy-bot",
    "error":"container exited with 137","created_at":"2026-04-01T00:00:00Z",
    "updated_at":"2026-04-02T10:00:00Z",
    "docker":{"status":"exited","running":false,"exit_code":137,"oom_killed":true,
              "started_at_ms":1,"finished_at_ms":2},
    "container_missing":false})")
      .as_object();
}

json::object pending_record() {
  return json::parse(R"({"game_id":"g3","host_id":"host-a","incarnation":1,"container_id":"",
    "spec":{"game_id":"g3","image":"img:3"},"desired":"running","state":"pending",
    "action":"create","action_by":"","error":"","created_at":"2026-04-02T11:00:00Z",
    "updated_at":"2026-04-02T11:00:00Z","docker":null,"container_missing":false})")
      .as_object();
}

TEST(RenderEngines, Table) {
  EXPECT_EQ(cli::render_engines({running_record(), oom_record(), pending_record()}, {}),
            "GAME     INCARNATION  CONTAINER     STATE    DESIRED  DOCKER STATUS     "
            "ACTION BY   UPDATED\n"
            "game-1   3            7c2b5d1a4f6e  running  running  running           "
            "ops         2026-04-02T09:23:30Z\n"
            "jeu-été  12           0123456789ab  failed   running  exited (137) oom  "
            "deploy-bot  2026-04-02T10:00:00Z\n"
            "g3       1            -             pending  running  -                 "
            "-           2026-04-02T11:00:00Z\n");
}

TEST(RenderEngines, WideAddsImageHostFullContainerActionError) {
  const OutputOptions wide{OutputFormat::wide, true, false};
  EXPECT_EQ(cli::render_engines({running_record(), oom_record()}, wide),
            "GAME     INCARNATION  CONTAINER     STATE    DESIRED  DOCKER STATUS     "
            "ACTION BY   UPDATED               IMAGE                    HOST    CONTAINER ID"
            "                  ACTION   ERROR\n"
            "game-1   3            7c2b5d1a4f6e  running  running  running           "
            "ops         2026-04-02T09:23:30Z  registry.local/game:1.2  host-a  "
            "7c2b5d1a4f6e0123456789abcdef  -        -\n"
            "jeu-été  12           0123456789ab  failed   running  exited (137) oom  "
            "deploy-bot  2026-04-02T10:00:00Z  img:2                    host-b  "
            "0123456789abcdef              restart  container exited with 137\n");
}

TEST(RenderEngines, NoHeadersMissingContainerAndEmpty) {
  auto gone = running_record();
  gone["container_missing"] = true;
  gone.erase("updated_at");
  const OutputOptions plain{OutputFormat::table, false, false};
  EXPECT_EQ(cli::render_engine(gone, plain),
            "game-1  3  7c2b5d1a4f6e  running  running  missing  ops  -\n");
  EXPECT_EQ(cli::render_engines({}, {}),
            "GAME  INCARNATION  CONTAINER  STATE  DESIRED  DOCKER STATUS  ACTION BY  UPDATED\n");
  EXPECT_EQ(cli::render_engines({}, plain), "");
}

TEST(RenderEngines, JsonIsTheRecordsAsSent) {
  const OutputOptions js{OutputFormat::json, true, false};
  const auto one = cli::render_engine(running_record(), js);
  EXPECT_EQ(one, json::serialize(running_record()) + "\n");
  EXPECT_EQ(one.find('\n'), one.size() - 1);
  const auto many = cli::render_engines({running_record(), pending_record()}, js);
  EXPECT_EQ(json::parse(many), (json::array{running_record(), pending_record()}));
  EXPECT_EQ(many.find('\n'), many.size() - 1);
  EXPECT_EQ(cli::render_engines({}, js), "[]\n");
}

TEST(RenderEngines, HeadersAreBoldOnlyWithColor) {
  const OutputOptions color{OutputFormat::table, true, true};
  EXPECT_NE(cli::render_engine(running_record(), color).find("\x1b[1m"), std::string::npos);
  EXPECT_EQ(cli::render_engine(running_record(), {}).find('\x1b'), std::string::npos);
}

// --- errors --------------------------------------------------------------------------------------

TEST(ApiErrors, ParsedFromTheErrorDocument) {
  EXPECT_EQ(cli::parse_api_error(
                409, R"({"error":{"code":"action_in_progress","message":"a stop is running"}})"),
            (cli::ApiError{409, "action_in_progress", "a stop is running", ""}));
  EXPECT_EQ(
      cli::parse_api_error(
          422,
          R"({"error":{"code":"invalid_value","message":"not a size","field":"memory_bytes"}})"),
      (cli::ApiError{422, "invalid_value", "not a size", "memory_bytes"}));
  EXPECT_EQ(cli::parse_api_error(
                404, R"({"error":{"code":"not_found","message":"no such engine","field":null}})"),
            (cli::ApiError{404, "not_found", "no such engine", ""}));
}

TEST(ApiErrors, OtherBodiesStillSaySomething) {
  EXPECT_EQ(cli::parse_api_error(502, "<html>\n<h1>Bad gateway</h1>\n</html>\n"),
            (cli::ApiError{502, "http_502", "<html> <h1>Bad gateway</h1> </html>", ""}));
  EXPECT_EQ(cli::parse_api_error(503, ""),
            (cli::ApiError{503, "http_503", "Service Unavailable", ""}));
  EXPECT_EQ(cli::parse_api_error(401, R"({"error":"nope"})"),
            (cli::ApiError{401, "http_401", R"({"error":"nope"})", ""}));
  EXPECT_EQ(cli::parse_api_error(500, R"({"error":{"code":"store_unavailable"}})"),
            (cli::ApiError{500, "store_unavailable", "Internal Server Error", ""}));
  EXPECT_EQ(cli::parse_api_error(413, std::string(500, 'x')).message.size(), 200U);
}

TEST(ApiErrors, RenderedOnOneLineWithTheFieldWhenNamed) {
  EXPECT_EQ(cli::render_api_error({409, "spec_conflict", "game-1 runs another spec", ""}),
            "galaxy-health: spec_conflict: game-1 runs another spec\n");
  EXPECT_EQ(cli::render_api_error({422, "unknown_field", "not in the spec", "labelz"}),
            "galaxy-health: unknown_field: not in the spec (field labelz)\n");
  EXPECT_EQ(cli::render_api_error({400, "malformed_json", "line 1\nline 2", ""}),
            "galaxy-health: malformed_json: line 1 line 2\n");
}

}  // namespace
