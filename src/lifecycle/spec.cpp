#include "galaxy/lifecycle/spec.hpp"

#include <array>
#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>
#include <cctype>
#include <charconv>
#include <functional>
#include <span>
#include <system_error>

#include "galaxy/common/json_pointer.hpp"
#include "galaxy/contract/strict_json.hpp"

namespace galaxy::lifecycle {

namespace {

using contract::strict::JsonKind;
using contract::strict::JsonNode;

// Deep enough for any valid spec (object > healthz/env/cmd > value is 3) and for a wrong but
// plausible value to be named as such at its field, shallow enough that no body recurses far.
constexpr std::size_t kMaxDepth = 16;
constexpr std::size_t kMaxGameId = 128;
constexpr std::size_t kMaxImage = 255;
constexpr std::size_t kMaxCmd = 256;
constexpr std::size_t kMaxArg = 4096;
constexpr std::size_t kMaxEntries = 256;
constexpr std::size_t kMaxHealthzPath = 1024;
constexpr std::size_t kMaxNetwork = 255;
constexpr std::int64_t kMiB = std::int64_t{1} << 20;
constexpr std::int64_t kMinMemory = 6 * kMiB;
constexpr std::int64_t kMaxMemory = std::int64_t{1} << 40;
constexpr double kMinCpus = 0.01;
constexpr double kMaxCpus = 1024;
constexpr std::string_view kReservedLabelPrefix = "galaxy.";

constexpr std::array<std::string_view, 9> kSpecFields = {
    "game_id", "image", "cmd", "env", "labels", "healthz", "memory_bytes", "cpus", "network"};
constexpr std::array<std::string_view, 2> kHealthzFields = {"port", "path"};

ApiError invalid(std::string field, std::string message) {
  return ApiError{422, "invalid_value", std::move(message), std::move(field)};
}

std::string got(const JsonNode& n) {
  return ", got " + std::string(contract::strict::describe(n.kind));
}

const JsonNode* member(const JsonNode& object, std::string_view key) {
  for (const auto& m : object.members) {
    if (m.key == key) {
      return &m.value;
    }
  }
  return nullptr;
}

std::optional<ApiError> unknown_field(const JsonNode& object, std::string_view base,
                                      std::span<const std::string_view> known) {
  for (const auto& m : object.members) {
    bool found = false;
    for (auto k : known) {
      found = found || k == m.key;
    }
    if (!found) {
      const std::string field = json_pointer_append(base, m.key);
      return ApiError{422, "unknown_field", "unknown field " + field + ": the spec is closed",
                      field};
    }
  }
  return std::nullopt;
}

bool alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool all_of(std::string_view s, const std::function<bool(char)>& ok) {
  for (char c : s) {
    if (!ok(c)) {
      return false;
    }
  }
  return true;
}

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

std::optional<ApiError> check_game_id(const JsonNode& n, std::string& out) {
  const auto ok = [](char c) { return alnum(c) || c == '.' || c == '_' || c == ':' || c == '-'; };
  if (n.kind != JsonKind::string || n.text.empty() || n.text.size() > kMaxGameId ||
      !all_of(n.text, ok)) {
    return invalid("/game_id",
                   "game_id must be a string of 1 to 128 characters of [A-Za-z0-9._:-]" +
                       (n.kind == JsonKind::string ? std::string() : got(n)));
  }
  out = n.text;
  return std::nullopt;
}

std::optional<ApiError> check_image(const JsonNode& n, const std::vector<std::string>& prefixes,
                                    std::string& out) {
  const auto ok = [](char c) {
    return alnum(c) || c == '.' || c == '_' || c == '/' || c == ':' || c == '@' || c == '-';
  };
  if (n.kind != JsonKind::string || n.text.empty() || n.text.size() > kMaxImage ||
      !all_of(n.text, ok)) {
    return invalid("/image",
                   "image must be a Docker reference: 1 to 255 characters of "
                   "[A-Za-z0-9._/:@-]" +
                       (n.kind == JsonKind::string ? std::string() : got(n)));
  }
  if (!prefixes.empty()) {
    bool allowed = false;
    std::string listed;
    for (const auto& p : prefixes) {
      allowed = allowed || n.text.starts_with(p);
      listed += (listed.empty() ? "" : ", ") + p;
    }
    if (!allowed) {
      return ApiError{422, "image_not_allowed",
                      "image must start with one of the allowed prefixes: " + listed, "/image"};
    }
  }
  out = n.text;
  return std::nullopt;
}

std::optional<ApiError> check_cmd(const JsonNode& n, std::vector<std::string>& out) {
  if (n.kind != JsonKind::array) {
    return invalid("/cmd", "cmd must be an array of strings" + got(n));
  }
  if (n.elements.size() > kMaxCmd) {
    return invalid("/cmd", "cmd must have at most 256 items");
  }
  for (std::size_t i = 0; i < n.elements.size(); ++i) {
    const JsonNode& e = n.elements[i];
    if (e.kind != JsonKind::string || e.text.size() > kMaxArg || has_nul(e.text)) {
      return invalid(json_pointer_append("/cmd", std::to_string(i)),
                     "cmd items must be strings of at most 4096 bytes without NUL" +
                         (e.kind == JsonKind::string ? std::string() : got(e)));
    }
    out.push_back(e.text);
  }
  return std::nullopt;
}

// env and labels: string to string, bounded, with a rule for keys.
std::optional<ApiError> check_map(const JsonNode& n, std::string_view name,
                                  const std::function<bool(const std::string&)>& key_ok,
                                  std::string_view key_rule,
                                  std::map<std::string, std::string>& out) {
  const std::string base = json_pointer_append("", name);
  if (n.kind != JsonKind::object) {
    return invalid(base, std::string(name) + " must be an object of strings" + got(n));
  }
  if (n.members.size() > kMaxEntries) {
    return invalid(base, std::string(name) + " must have at most 256 entries");
  }
  for (const auto& [key, value] : n.members) {
    const std::string field = json_pointer_append(base, key);
    if (!key_ok(key)) {
      return invalid(field, std::string(name) + " keys " + std::string(key_rule));
    }
    if (value.kind != JsonKind::string || has_nul(value.text)) {
      return invalid(field, std::string(name) + " values must be strings without NUL" +
                                (value.kind == JsonKind::string ? std::string() : got(value)));
    }
    out.emplace(key, value.text);
  }
  return std::nullopt;
}

bool env_key(const std::string& k) {
  return !k.empty() && !(k[0] >= '0' && k[0] <= '9') &&
         all_of(k, [](char c) { return alnum(c) || c == '_'; });
}

bool label_key(const std::string& k) {
  return !k.empty() && !k.starts_with(kReservedLabelPrefix) && !has_nul(k);
}

std::optional<ApiError> check_healthz(const JsonNode& n, HealthzSpec& out) {
  if (n.kind != JsonKind::object) {
    return invalid("/healthz", "healthz must be an object {port, path}" + got(n));
  }
  if (auto e = unknown_field(n, "/healthz", kHealthzFields)) {
    return e;
  }
  if (const JsonNode* port = member(n, "port")) {
    if (port->kind != JsonKind::integer || port->integer < 1 || port->integer > 65535) {
      return invalid("/healthz/port", "healthz.port must be an integer from 1 to 65535" +
                                          (port->kind == JsonKind::integer ? "" : got(*port)));
    }
    out.port = static_cast<std::uint16_t>(port->integer);
  }
  if (const JsonNode* path = member(n, "path")) {
    // The path goes into the probe's request line as it is: a space or a control character
    // would split or end that line.
    const auto ok = [](char c) { return static_cast<unsigned char>(c) > 0x20 && c != 0x7f; };
    if (path->kind != JsonKind::string || !path->text.starts_with('/') ||
        path->text.size() > kMaxHealthzPath || !all_of(path->text, ok)) {
      return invalid("/healthz/path",
                     "healthz.path must start with \"/\", be at most 1024 bytes and contain no "
                     "space or control character" +
                         (path->kind == JsonKind::string ? std::string() : got(*path)));
    }
    out.path = path->text;
  }
  return std::nullopt;
}

std::optional<ApiError> check_memory(const JsonNode& n, std::int64_t& out) {
  if (n.kind != JsonKind::integer || n.integer < kMinMemory || n.integer > kMaxMemory) {
    return invalid("/memory_bytes",
                   "memory_bytes must be an integer from 6291456 (6 MiB, Docker's minimum) to "
                   "1099511627776 (1 TiB)" +
                       (n.kind == JsonKind::integer ? "" : got(n)));
  }
  out = n.integer;
  return std::nullopt;
}

std::optional<ApiError> check_cpus(const JsonNode& n, double& out) {
  double v = 0;
  bool number = false;
  if (n.kind == JsonKind::integer) {
    v = static_cast<double>(n.integer);
    number = true;
  } else if (n.kind == JsonKind::non_integer || n.kind == JsonKind::out_of_range) {
    const auto [end, ec] = std::from_chars(n.text.data(), n.text.data() + n.text.size(), v);
    number = end == n.text.data() + n.text.size();
    if (ec != std::errc()) {
      v = -1;  // beyond double's range (either way) is outside ours as well
    }
  }
  if (!number || !(v >= kMinCpus && v <= kMaxCpus)) {
    return invalid("/cpus", "cpus must be a number from 0.01 (Docker's minimum) to 1024" +
                                (number ? std::string() : got(n)));
  }
  out = v;
  return std::nullopt;
}

std::optional<ApiError> check_network(const JsonNode& n, std::string& out) {
  const auto ok = [](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; };
  if (n.kind != JsonKind::string || n.text.empty() || n.text.size() > kMaxNetwork ||
      !alnum(n.text[0]) || !all_of(n.text, ok)) {
    return invalid("/network",
                   "network must be a network name: 1 to 255 characters of "
                   "[A-Za-z0-9_.-] starting with a letter or digit" +
                       (n.kind == JsonKind::string ? std::string() : got(n)));
  }
  std::string lower = n.text;
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (lower == "host") {
    return invalid("/network", "network \"host\" would share the host's network namespace");
  }
  out = n.text;
  return std::nullopt;
}

std::variant<EngineSpec, ApiError> parse(std::string_view body,
                                         const std::vector<std::string>& prefixes) {
  auto root = contract::strict::parse_strict(body, kMaxDepth);
  if (!root) {
    const auto& e = root.error();
    return ApiError{400, "malformed_json", "the body is not valid JSON: " + e.message(), ""};
  }
  if (root->kind != JsonKind::object) {
    return ApiError{400, "malformed_json", "the body must be a JSON object" + got(*root), ""};
  }
  if (auto e = unknown_field(*root, "", kSpecFields)) {
    return *e;
  }
  EngineSpec spec;
  const auto missing = [](std::string_view name) {
    const std::string field = json_pointer_append("", name);
    return ApiError{422, "missing_field", std::string(name) + " is required", field};
  };
  const JsonNode* n = member(*root, "game_id");
  if (n == nullptr) {
    return missing("game_id");
  }
  if (auto e = check_game_id(*n, spec.game_id)) {
    return *e;
  }
  n = member(*root, "image");
  if (n == nullptr) {
    return missing("image");
  }
  if (auto e = check_image(*n, prefixes, spec.image)) {
    return *e;
  }
  if ((n = member(*root, "cmd")) != nullptr) {
    if (auto e = check_cmd(*n, spec.cmd)) {
      return *e;
    }
  }
  if ((n = member(*root, "env")) != nullptr) {
    if (auto e = check_map(*n, "env", env_key, "must match [A-Za-z_][A-Za-z0-9_]*", spec.env)) {
      return *e;
    }
  }
  if ((n = member(*root, "labels")) != nullptr) {
    if (auto e = check_map(*n, "labels", label_key,
                           "must be non-empty, without NUL, and not start with \"galaxy.\" "
                           "(reserved for the daemon's own labels)",
                           spec.labels)) {
      return *e;
    }
  }
  if ((n = member(*root, "healthz")) != nullptr) {
    if (auto e = check_healthz(*n, spec.healthz.emplace())) {
      return *e;
    }
  }
  if ((n = member(*root, "memory_bytes")) != nullptr) {
    if (auto e = check_memory(*n, spec.memory_bytes.emplace())) {
      return *e;
    }
  }
  if ((n = member(*root, "cpus")) != nullptr) {
    if (auto e = check_cpus(*n, spec.cpus.emplace())) {
      return *e;
    }
  }
  if ((n = member(*root, "network")) != nullptr) {
    if (auto e = check_network(*n, spec.network.emplace())) {
      return *e;
    }
  }
  return spec;
}

void append_string(std::string& out, std::string_view s) {
  out += boost::json::serialize(boost::json::string_view(s.data(), s.size()));
}

void append_key(std::string& out, std::string_view key, bool& first) {
  out += first ? "" : ",";
  first = false;
  append_string(out, key);
  out += ':';
}

void append_map(std::string& out, const std::map<std::string, std::string>& m) {
  out += '{';
  bool first = true;
  for (const auto& [k, v] : m) {
    append_key(out, k, first);
    append_string(out, v);
  }
  out += '}';
}

}  // namespace

std::variant<EngineSpec, ApiError> parse_engine_spec(
    std::string_view body, const std::vector<std::string>& image_prefixes) {
  return parse(body, image_prefixes);
}

std::variant<EngineSpec, ApiError> spec_from_json(std::string_view canonical) {
  return parse(canonical, {});
}

std::string spec_json(const EngineSpec& spec) {
  // Keys in byte order, written by hand: a JSON object type would keep insertion order, and the
  // order is what makes the form canonical.
  std::string out = "{";
  bool first = true;
  if (!spec.cmd.empty()) {
    append_key(out, "cmd", first);
    out += '[';
    for (std::size_t i = 0; i < spec.cmd.size(); ++i) {
      out += i == 0 ? "" : ",";
      append_string(out, spec.cmd[i]);
    }
    out += ']';
  }
  if (spec.cpus) {
    append_key(out, "cpus", first);
    // Shortest form that reads back as the same double ("1.5", "2", "0.01").
    std::array<char, 32> buf{};
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), *spec.cpus);
    out.append(buf.data(), ec == std::errc() ? end : buf.data());
  }
  if (!spec.env.empty()) {
    append_key(out, "env", first);
    append_map(out, spec.env);
  }
  append_key(out, "game_id", first);
  append_string(out, spec.game_id);
  if (spec.healthz) {
    append_key(out, "healthz", first);
    out += "{\"path\":";
    append_string(out, spec.healthz->path);
    out += ",\"port\":" + std::to_string(spec.healthz->port) + "}";
  }
  append_key(out, "image", first);
  append_string(out, spec.image);
  if (!spec.labels.empty()) {
    append_key(out, "labels", first);
    append_map(out, spec.labels);
  }
  if (spec.memory_bytes) {
    append_key(out, "memory_bytes", first);
    out += std::to_string(*spec.memory_bytes);
  }
  if (spec.network) {
    append_key(out, "network", first);
    append_string(out, *spec.network);
  }
  out += '}';
  return out;
}

}  // namespace galaxy::lifecycle
