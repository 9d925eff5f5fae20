// fake-engine: a stand-in game engine for the runtime manager's tests. It serves GET /healthz and
// lets a test decide, at start (flags/env) or at run time (POST /control/...), how it behaves:
// answer a given status, answer late, drop connections, exit with a code, or grow memory until the
// kernel OOM-kills it.
//
// Written by hand with plain POSIX sockets and a thread per connection on purpose: it must link
// statically (`docker import` images have no libc), stay tiny, and it serves a handful of requests
// per test, so an HTTP library would add size and nothing else.
//
// The image has no shell, but `docker run --health-cmd` runs ["/bin/sh", "-c", CMD]; installed as
// /bin/sh this binary understands `-c CMD` (split on blanks, simple quotes, `exit N`) and execs it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace {

struct Behaviour {
  std::atomic<int> status{200};
  std::atomic<int> delay_ms{0};
  std::atomic<bool> drop{false};
};

struct Options {
  int port = 8080;
  int status = 200;
  int delay_ms = 0;
  bool drop = false;
  bool ignore_term = false;  // SIGTERM does nothing: docker stop waits its timeout, then kills
  std::optional<int> exit_code;
  int exit_after_ms = 0;
  std::optional<int> oom_after_ms;
  long oom_max_mb = 0;  // 0: grow until killed
  int timeout_ms = 2000;
};

// std::strerror is not thread safe; connections are handled on many threads.
std::string error_text(int error) {
  return std::generic_category().message(error);
}

std::optional<long> to_number(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  char* end = nullptr;
  const std::string copy(text);
  const long value = std::strtol(copy.c_str(), &end, 10);
  if (*end != '\0') {
    return std::nullopt;
  }
  return value;
}

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr,
               "fake-engine: %s\n"
               "usage: fake-engine [serve] [--port N] [--status N] [--delay-ms N] [--drop]"
               " [--ignore-sigterm]\n"
               "                   [--exit-code N [--exit-after-ms N]] [--oom-after-ms N]"
               " [--oom-max-mb N]\n"
               "       fake-engine check [--port N] [--timeout-ms N]\n"
               "env: FAKE_ENGINE_PORT, _STATUS, _DELAY_MS, _DROP, _EXIT_CODE, _EXIT_AFTER_MS,"
               " _OOM_AFTER_MS, _OOM_MAX_MB\n",
               what.c_str());
  std::exit(2);  // NOLINT(concurrency-mt-unsafe): only while parsing options, before any thread
}

int number_or_die(std::string_view name, std::string_view text) {
  const auto value = to_number(text);
  if (!value) {
    usage_error(std::string(name) + ": not a number: '" + std::string(text) + "'");
  }
  return static_cast<int>(*value);
}

// Environment first, flags override it. Each setting has a flag and an environment variable.
Options parse_options(const std::vector<std::string_view>& args) {
  Options o;
  struct Setting {
    std::string_view flag;
    const char* env;
    std::function<void(int)> set;
  };
  const Setting settings[] = {
      {"--port", "FAKE_ENGINE_PORT", [&](int v) { o.port = v; }},
      {"--status", "FAKE_ENGINE_STATUS", [&](int v) { o.status = v; }},
      {"--delay-ms", "FAKE_ENGINE_DELAY_MS", [&](int v) { o.delay_ms = v; }},
      {"--exit-code", "FAKE_ENGINE_EXIT_CODE", [&](int v) { o.exit_code = v; }},
      {"--exit-after-ms", "FAKE_ENGINE_EXIT_AFTER_MS", [&](int v) { o.exit_after_ms = v; }},
      {"--oom-after-ms", "FAKE_ENGINE_OOM_AFTER_MS", [&](int v) { o.oom_after_ms = v; }},
      {"--oom-max-mb", "FAKE_ENGINE_OOM_MAX_MB", [&](int v) { o.oom_max_mb = v; }},
      {"--timeout-ms", "FAKE_ENGINE_TIMEOUT_MS", [&](int v) { o.timeout_ms = v; }},
  };
  for (const auto& s : settings) {
    const char* value = std::getenv(s.env);  // NOLINT(concurrency-mt-unsafe): before any thread
    if (value != nullptr && *value != '\0') {
      s.set(number_or_die(s.env, value));
    }
  }
  const char* drop = std::getenv("FAKE_ENGINE_DROP");  // NOLINT(concurrency-mt-unsafe): ditto
  o.drop = drop != nullptr && *drop != '\0' && std::string_view(drop) != "0";

  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--drop") {
      o.drop = true;
      continue;
    }
    if (args[i] == "--ignore-sigterm") {
      o.ignore_term = true;
      continue;
    }
    const auto* s = std::find_if(std::begin(settings), std::end(settings),
                                 [&](const Setting& c) { return c.flag == args[i]; });
    if (s == std::end(settings)) {
      usage_error("unknown argument '" + std::string(args[i]) + "'");
    }
    if (i + 1 >= args.size()) {
      usage_error(std::string(args[i]) + " needs a value");
    }
    s->set(number_or_die(args[i], args[i + 1]));
    ++i;
  }
  if (o.status < 100 || o.status > 599) {
    usage_error("status must be 100..599");
  }
  return o;
}

void sleep_ms(long ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// Touches every page so the memory is really charged to the cgroup, then keeps it.
void grow_memory(long max_mb) {
  constexpr std::size_t kChunk = 1 << 20;
  std::vector<char*> kept;
  for (long mb = 0; max_mb == 0 || mb < max_mb; ++mb) {
    auto* chunk = static_cast<char*>(std::malloc(kChunk));
    if (chunk == nullptr) {
      break;
    }
    std::memset(chunk, 0x5a, kChunk);
    kept.push_back(chunk);
  }
  std::fprintf(stdout, "fake-engine: holding %zu MiB\n", kept.size());
  std::fflush(stdout);
  for (;;) {
    sleep_ms(1000);
  }
}

void set_timeouts(int fd, int ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads up to the end of the header block; bodies are never needed.
std::string read_head(int fd) {
  std::string head;
  char buf[1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 16384) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      break;
    }
    head.append(buf, static_cast<std::size_t>(n));
  }
  return head;
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

void respond(int fd, int status, std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
  out += "Content-Type: text/plain\r\nConnection: close\r\nContent-Length: ";
  out += std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  write_all(fd, out);
}

std::map<std::string, std::string, std::less<>> parse_query(std::string_view query) {
  std::map<std::string, std::string, std::less<>> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    out[std::string(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  return out;
}

// Control endpoints ignore drop/delay so a test can always steer the engine back.
void handle_control(int fd, Behaviour& b, std::string_view method, std::string_view path,
                    std::string_view query) {
  const auto params = parse_query(query);
  const auto param = [&](std::string_view key) -> std::optional<long> {
    const auto it = params.find(key);
    return it == params.end() ? std::nullopt : to_number(it->second);
  };
  const std::string_view action = path.substr(std::string_view("/control/").size());
  if (action == "state") {
    respond(fd, 200,
            "{\"status\":" + std::to_string(b.status.load()) +
                ",\"delay_ms\":" + std::to_string(b.delay_ms.load()) +
                ",\"drop\":" + (b.drop.load() ? "true" : "false") + "}\n");
    return;
  }
  if (method != "POST") {
    respond(fd, 405, "control endpoints take POST\n");
    return;
  }
  if (action == "status") {
    const auto code = param("code");
    if (!code || *code < 100 || *code > 599) {
      respond(fd, 400, "code=100..599 required\n");
      return;
    }
    b.status = static_cast<int>(*code);
  } else if (action == "delay") {
    const auto ms = param("ms");
    if (!ms || *ms < 0) {
      respond(fd, 400, "ms=N required\n");
      return;
    }
    b.delay_ms = static_cast<int>(*ms);
  } else if (action == "drop") {
    b.drop = param("on").value_or(1) != 0;
  } else if (action == "reset") {
    b.status = 200;
    b.delay_ms = 0;
    b.drop = false;
  } else if (action == "exit") {
    const int code = static_cast<int>(param("code").value_or(0));
    respond(fd, 200, "exiting " + std::to_string(code) + "\n");
    shutdown(fd, SHUT_WR);
    std::fflush(stdout);
    std::_Exit(code);
  } else if (action == "oom") {
    const long max_mb = param("max_mb").value_or(0);
    std::thread([max_mb] { grow_memory(max_mb); }).detach();
  } else {
    respond(fd, 404, "unknown control action\n");
    return;
  }
  respond(fd, 200, "ok\n");
}

void handle_connection(int fd, Behaviour& b) {
  set_timeouts(fd, 10000);
  const std::string head = read_head(fd);
  const auto line_end = head.find("\r\n");
  const std::string_view line = std::string_view(head).substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.find(' ', sp1 == std::string_view::npos ? sp1 : sp1 + 1);
  if (line_end == std::string::npos || sp1 == std::string_view::npos ||
      sp2 == std::string_view::npos) {
    close(fd);
    return;
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const auto qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string_view query =
      qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);

  if (path.starts_with("/control/")) {
    handle_control(fd, b, method, path, query);
  } else if (b.drop) {
    // Say nothing: the client sees the connection closed with no answer.
  } else if (path == "/healthz") {
    if (const int delay = b.delay_ms; delay > 0) {
      sleep_ms(delay);
    }
    const int status = b.status;
    respond(fd, status, status < 400 ? "healthy\n" : "unhealthy\n");
  } else {
    respond(fd, 404, "not found\n");
  }
  close(fd);
}

int serve(const Options& o) {
  signal(SIGPIPE, SIG_IGN);
  // As PID 1 in a container a signal without a handler is ignored; `docker stop` must work.
  if (o.ignore_term) {
    signal(SIGTERM, [](int) {});  // a handler (not SIG_IGN): the signal is still delivered
  } else {
    signal(SIGTERM, [](int) { std::_Exit(0); });
  }
  signal(SIGINT, [](int) { std::_Exit(0); });

  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 128) != 0) {
    std::fprintf(stderr, "fake-engine: cannot listen on port %d: %s\n", o.port,
                 error_text(errno).c_str());
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  // Tests start it on port 0 and read the real port from this line.
  std::fprintf(stdout, "fake-engine listening on %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  static Behaviour behaviour;
  behaviour.status = o.status;
  behaviour.delay_ms = o.delay_ms;
  behaviour.drop = o.drop;
  if (o.exit_code) {
    std::thread([code = *o.exit_code, after = o.exit_after_ms] {
      sleep_ms(after);
      std::_Exit(code);
    }).detach();
  }
  if (o.oom_after_ms) {
    std::thread([after = *o.oom_after_ms, max_mb = o.oom_max_mb] {
      sleep_ms(after);
      grow_memory(max_mb);
    }).detach();
  }
  for (;;) {
    const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) {
        continue;
      }
      std::fprintf(stderr, "fake-engine: accept: %s\n", error_text(errno).c_str());
      return 1;
    }
    std::thread([fd] { handle_connection(fd, behaviour); }).detach();
  }
}

// HEALTHCHECK probe: 0 when our own /healthz answers 2xx/3xx in time, else 1.
int check(const Options& o) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  set_timeouts(fd, o.timeout_ms);  // SO_SNDTIMEO also bounds connect() on Linux
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "check: connect: %s\n", error_text(errno).c_str());
    return 1;
  }
  if (!write_all(fd, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")) {
    return 1;
  }
  const std::string head = read_head(fd);
  close(fd);
  int status = 0;
  if (std::sscanf(head.c_str(), "HTTP/1.%*d %d", &status) != 1) {
    std::fprintf(stderr, "check: no answer\n");
    return 1;
  }
  std::fprintf(stdout, "check: %d\n", status);
  return status >= 200 && status < 400 ? 0 : 1;
}

// `sh -c CMD`: just enough shell for HEALTHCHECK commands.
int shell(int argc, char** argv) {
  if (argc < 3 || std::string_view(argv[1]) != "-c") {
    std::fprintf(stderr, "sh: only 'sh -c COMMAND' is supported\n");
    return 2;
  }
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (const char c : std::string_view(argv[2])) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) {
        words.push_back(std::move(word));
      }
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) {
    words.push_back(std::move(word));
  }
  if (words.empty() || words[0] == "true") {
    return 0;
  }
  if (words[0] == "false") {
    return 1;
  }
  if (words[0] == "exit") {
    return words.size() > 1 ? number_or_die("exit", words[1]) : 0;
  }
  std::string program = words[0];
  if (program.find('/') == std::string::npos) {
    program = access(("/" + program).c_str(), X_OK) == 0 ? "/" + program : "/bin/" + program;
  }
  std::vector<char*> args;
  args.reserve(words.size() + 1);
  for (auto& w : words) {
    args.push_back(w.data());
  }
  args.push_back(nullptr);
  execv(program.c_str(), args.data());
  std::fprintf(stderr, "sh: %s: %s\n", program.c_str(), error_text(errno).c_str());
  return 127;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view self = argv[0];
  const std::string_view name =
      self.substr(self.rfind('/') == std::string_view::npos ? 0 : self.rfind('/') + 1);
  if (name == "sh") {
    return shell(argc, argv);
  }

  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "check") {
    args.erase(args.begin());
    return check(parse_options(args));
  }
  if (!args.empty() && args[0] == "serve") {
    args.erase(args.begin());
  }
  return serve(parse_options(args));
}
