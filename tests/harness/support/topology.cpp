#include "galaxy/testsupport/topology.hpp"

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "galaxy/testsupport/process.hpp"

namespace galaxy::testsupport {

using namespace std::chrono_literals;

namespace {

std::string script_path() {
  return std::string(GALAXY_SOURCE_DIR) + "/scripts/topology";
}

// The script bounds each step at 60 s; this only catches a script that hangs altogether.
constexpr auto kScriptDeadline = std::chrono::milliseconds(240s);

std::string make_temp_dir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "galaxy-topology-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  return pattern;
}

std::string describe(const std::vector<std::string>& argv, const ProcessOutput& out) {
  std::string cmd;
  for (const auto& a : argv) {
    cmd += (cmd.empty() ? "" : " ") + a;
  }
  const std::string how =
      out.timed_out ? "timed out after " + std::to_string(kScriptDeadline.count() / 1000) + " s"
                    : "exited " + std::to_string(out.exit_code);
  return cmd + " " + how + ":\n" + out.output;
}

ProcessOutput run_script(const std::vector<std::string>& argv) {
  auto out = run(argv, kScriptDeadline);
  if (out.exit_code != 0 || out.timed_out) {
    throw std::runtime_error(describe(argv, out));
  }
  return out;
}

// KEY=VALUE lines; anything else (the script's progress on stderr shares the pipe) is skipped.
std::map<std::string, std::string> parse_env(const std::string& text) {
  std::map<std::string, std::string> env;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    const auto eq = line.find('=');
    if (eq == 0 || eq == std::string::npos) {
      continue;
    }
    const std::string key = line.substr(0, eq);
    if (key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == std::string::npos) {
      env[key] = line.substr(eq + 1);
    }
  }
  return env;
}

}  // namespace

Topology::Topology(std::string kind, std::string dir, std::map<std::string, std::string> env)
    : kind_(std::move(kind)), dir_(std::move(dir)), env_(std::move(env)) {}

Topology Topology::up(std::string kind) {
  // The folder is ours, not the script's default, so parallel tests never share nodes.
  const std::string dir = make_temp_dir();
  const std::vector<std::string> argv = {script_path(), "up", kind, "--dir", dir};
  const auto out = run(argv, kScriptDeadline);
  if (out.exit_code != 0 || out.timed_out) {
    // up kills what it started but keeps its logs (and PostgreSQL's /tmp folder) for a person
    // running it by hand; here the message below carries them, so nothing may stay.
    run({script_path(), "down", "--dir", dir}, kScriptDeadline);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    throw std::runtime_error("scripts/topology could not bring up " + kind + ": " +
                             describe(argv, out));
  }
  // DIR/env rather than stdout: stdout shares the pipe with the script's stderr.
  std::ifstream file(dir + "/env");
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  Topology t(std::move(kind), dir, parse_env(text));
  if (t.env_.empty()) {
    throw std::runtime_error("scripts/topology up " + t.kind_ + " wrote no env lines to " + dir +
                             "/env; its output:\n" + out.output);
  }
  return t;
}

Topology::Topology(Topology&& other) noexcept
    : kind_(std::move(other.kind_)),
      dir_(std::exchange(other.dir_, std::string())),
      env_(std::move(other.env_)) {}

Topology& Topology::operator=(Topology&& other) noexcept {
  if (this != &other) {
    try {
      down();
    } catch (...) {  // a move cannot report it; the nodes are still SIGKILLed by the script
    }
    kind_ = std::move(other.kind_);
    dir_ = std::exchange(other.dir_, std::string());
    env_ = std::move(other.env_);
  }
  return *this;
}

Topology::~Topology() {
  try {
    down();
  } catch (...) {  // nothing to report to from a destructor
  }
}

const std::string& Topology::value(const std::string& key) const {
  const auto it = env_.find(key);
  if (it == env_.end()) {
    std::string keys;
    for (const auto& [k, v] : env_) {
      keys += (keys.empty() ? "" : ", ") + k;
    }
    throw std::runtime_error("the " + kind_ + " topology has no " + key + " (it has " + keys + ")");
  }
  return it->second;
}

std::string Topology::script(const std::string& verb, const std::vector<std::string>& extra) const {
  if (dir_.empty()) {
    throw std::runtime_error("scripts/topology " + verb + ": the " + kind_ + " topology is down");
  }
  std::vector<std::string> argv = {script_path(), verb, "--dir", dir_};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_script(argv).output;
}

std::uint16_t Topology::kill_master(const std::string& key) {
  const auto out = key.empty() ? script("kill-master") : script("kill-master", {"--key", key});
  const auto env = parse_env(out);
  const auto it = env.find("KILLED_PORT");
  unsigned port = 0;
  if (it == env.end() ||
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), port).ec !=
          std::errc() ||
      port == 0 || port > 65535) {
    throw std::runtime_error("scripts/topology kill-master printed no KILLED_PORT=P:\n" + out);
  }
  return static_cast<std::uint16_t>(port);
}

void Topology::promote() {
  script("promote");
}

void Topology::restart_killed() {
  script("restart-killed");
}

void Topology::down() {
  if (dir_.empty()) {
    return;
  }
  const std::string dir = std::exchange(dir_, std::string());
  const std::vector<std::string> argv = {script_path(), "down", "--dir", dir};
  const auto out = run(argv, kScriptDeadline);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (out.exit_code != 0 || out.timed_out) {
    throw std::runtime_error(describe(argv, out));
  }
}

}  // namespace galaxy::testsupport
