#include "galaxy/docker/parse.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <chrono>
#include <string>
#include <utility>

#include "galaxy/common/json_pointer.hpp"

namespace galaxy::docker {
namespace {

namespace json = boost::json;

// Docker nests a few levels at most; a deeper document is not Docker's.
constexpr std::size_t kMaxDepth = 16;

Result<json::value> parse_json(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = kMaxDepth;
  json::value v = json::parse(text, ec, {}, options);
  if (ec) {
    return make_error("/", "invalid JSON: " + ec.message());
  }
  return v;
}

// Typed member access that turns every mismatch into an Error naming the member.
class Obj {
 public:
  static Result<Obj> from(const json::value& v, std::string path) {
    const auto* o = v.if_object();
    if (o == nullptr) {
      return make_error(std::move(path), "expected an object");
    }
    return Obj{o, std::move(path)};
  }

  Result<Obj> object(std::string_view key) const {
    const json::value* v = o_->if_contains(key);
    if (v == nullptr) {
      return make_error(json_pointer_append(path_, key), "missing");
    }
    return from(*v, json_pointer_append(path_, key));
  }

  // Absent or null: nullopt.
  Result<std::optional<Obj>> optional_object(std::string_view key) const {
    const json::value* v = o_->if_contains(key);
    if (v == nullptr || v->is_null()) {
      return std::optional<Obj>{};
    }
    auto o = from(*v, json_pointer_append(path_, key));
    if (!o) {
      return o.error();
    }
    return std::optional<Obj>{*o};
  }

  Result<std::string> string(std::string_view key) const {
    const json::value* v = o_->if_contains(key);
    if (v == nullptr) {
      return make_error(json_pointer_append(path_, key), "missing");
    }
    const auto* s = v->if_string();
    if (s == nullptr) {
      return make_error(json_pointer_append(path_, key), "expected a string");
    }
    return Result<std::string>{boost::system::in_place_value, *s};
  }

  Result<std::string> optional_string(std::string_view key) const {
    const json::value* v = o_->if_contains(key);
    if (v == nullptr || v->is_null()) {
      return Result<std::string>{boost::system::in_place_value};
    }
    return string(key);
  }

  Result<std::int64_t> integer(std::string_view key) const {
    const json::value* v = o_->if_contains(key);
    if (v == nullptr) {
      return make_error(json_pointer_append(path_, key), "missing");
    }
    if (const auto* i = v->if_int64()) {
      return *i;
    }
    if (const auto* u = v->if_uint64(); u != nullptr && *u <= INT64_MAX) {
      return static_cast<std::int64_t>(*u);
    }
    return make_error(json_pointer_append(path_, key), "expected an integer");
  }

  Result<bool> boolean(std::string_view key) const {
    const json::value* v = o_->if_contains(key);
    if (v == nullptr) {
      return make_error(json_pointer_append(path_, key), "missing");
    }
    const auto* b = v->if_bool();
    if (b == nullptr) {
      return make_error(json_pointer_append(path_, key), "expected a boolean");
    }
    return *b;
  }

  // An object of strings (labels, attributes); absent or null is empty.
  Result<std::map<std::string, std::string>> string_map(std::string_view key) const {
    std::map<std::string, std::string> out;
    auto o = optional_object(key);
    if (!o) {
      return o.error();
    }
    if (!o->has_value()) {
      return out;
    }
    const Obj& m = **o;
    for (const auto& kv : *m.o_) {
      const auto* s = kv.value().if_string();
      if (s == nullptr) {
        return make_error(json_pointer_append(m.path_, kv.key()), "expected a string");
      }
      out.insert_or_assign(std::string(kv.key()), std::string(*s));
    }
    return out;
  }

  const json::object& raw() const { return *o_; }
  const std::string& path() const { return path_; }

 private:
  Obj(const json::object* o, std::string path) : o_(o), path_(std::move(path)) {}
  const json::object* o_;
  std::string path_;
};

// Unwraps a Result into `out` or returns its error from the enclosing function: a macro because
// Boost.System's result has no early-return operator and every field would repeat four lines.
#define GALAXY_TRY(out, expr)         \
  do {                                \
    auto galaxy_try_r = (expr);       \
    if (!galaxy_try_r) {              \
      return galaxy_try_r.error();    \
    }                                 \
    (out) = std::move(*galaxy_try_r); \
  } while (false)

bool parse_digits(std::string_view s, int& out) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

Result<std::optional<std::int64_t>> time_field(const Obj& o, std::string_view key) {
  std::string text;
  GALAXY_TRY(text, o.string(key));
  auto t = parse_docker_time_ms(text);
  if (!t) {
    return make_error(json_pointer_append(o.path(), key), t.error().reason);
  }
  return *t;
}

Result<ContainerSummary> parse_summary(const json::value& v, std::string path) {
  auto o = Obj::from(v, std::move(path));
  if (!o) {
    return o.error();
  }
  ContainerSummary s;
  GALAXY_TRY(s.id, o->string("Id"));
  GALAXY_TRY(s.labels, o->string_map("Labels"));
  GALAXY_TRY(s.state, o->string("State"));
  GALAXY_TRY(s.image, o->string("Image"));
  return s;
}

}  // namespace

Result<DockerEvent> parse_event(std::string_view line, std::size_t max_bytes) {
  if (line.size() > max_bytes) {
    return make_error("/", "event line of " + std::to_string(line.size()) +
                               " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  json::value v;
  GALAXY_TRY(v, parse_json(line));
  auto root = Obj::from(v, "/");
  if (!root) {
    return root.error();
  }
  DockerEvent e;
  GALAXY_TRY(e.type, root->string("Type"));
  GALAXY_TRY(e.action, root->string("Action"));
  std::optional<Obj> actor;
  GALAXY_TRY(actor, root->optional_object("Actor"));
  if (actor) {
    GALAXY_TRY(e.actor_id, actor->optional_string("ID"));
    GALAXY_TRY(e.attributes, actor->string_map("Attributes"));
  }
  GALAXY_TRY(e.time, root->integer("time"));
  GALAXY_TRY(e.time_nano, root->integer("timeNano"));
  return e;
}

Result<ContainerInspect> parse_inspect(std::string_view text) {
  json::value v;
  GALAXY_TRY(v, parse_json(text));
  auto root = Obj::from(v, "/");
  if (!root) {
    return root.error();
  }
  ContainerInspect c;
  GALAXY_TRY(c.id, root->string("Id"));
  GALAXY_TRY(c.name, root->string("Name"));
  if (c.name.starts_with('/')) {
    c.name.erase(0, 1);
  }
  GALAXY_TRY(c.restart_count, root->integer("RestartCount"));

  auto config = root->object("Config");
  if (!config) {
    return config.error();
  }
  GALAXY_TRY(c.image, config->string("Image"));
  GALAXY_TRY(c.labels, config->string_map("Labels"));

  auto state = root->object("State");
  if (!state) {
    return state.error();
  }
  GALAXY_TRY(c.status, state->string("Status"));
  GALAXY_TRY(c.running, state->boolean("Running"));
  GALAXY_TRY(c.exit_code, state->integer("ExitCode"));
  GALAXY_TRY(c.oom_killed, state->boolean("OOMKilled"));
  GALAXY_TRY(c.started_at_ms, time_field(*state, "StartedAt"));
  GALAXY_TRY(c.finished_at_ms, time_field(*state, "FinishedAt"));
  std::optional<Obj> health;
  GALAXY_TRY(health, state->optional_object("Health"));
  if (health) {
    GALAXY_TRY(c.health, health->string("Status"));
  }

  auto host_config = root->object("HostConfig");
  if (!host_config) {
    return host_config.error();
  }
  GALAXY_TRY(c.network_mode, host_config->optional_string("NetworkMode"));

  std::optional<Obj> settings;
  GALAXY_TRY(settings, root->optional_object("NetworkSettings"));
  if (settings) {
    std::optional<Obj> networks;
    GALAXY_TRY(networks, settings->optional_object("Networks"));
    if (networks) {
      for (const auto& kv : networks->raw()) {
        auto net = Obj::from(kv.value(), json_pointer_append(networks->path(), kv.key()));
        if (!net) {
          return net.error();
        }
        std::string ip;
        GALAXY_TRY(ip, net->optional_string("IPAddress"));
        c.networks.insert_or_assign(std::string(kv.key()), std::move(ip));
      }
    }
  }
  return c;
}

Result<std::vector<ContainerSummary>> parse_container_list(std::string_view text) {
  json::value v;
  GALAXY_TRY(v, parse_json(text));
  const auto* array = v.if_array();
  if (array == nullptr) {
    return make_error("/", "expected an array");
  }
  std::vector<ContainerSummary> out;
  out.reserve(array->size());
  for (std::size_t i = 0; i < array->size(); ++i) {
    ContainerSummary s;
    GALAXY_TRY(s, parse_summary((*array)[i], "/" + std::to_string(i)));
    out.push_back(std::move(s));
  }
  return out;
}

Result<DockerInfo> parse_info(std::string_view text) {
  json::value v;
  GALAXY_TRY(v, parse_json(text));
  const auto* o = v.if_object();
  if (o == nullptr) {
    return make_error("/", "expected an object");
  }
  DockerInfo info;
  const auto field = [&](std::string_view key, std::string& out) -> Result<void> {
    const auto* f = o->if_contains(key);
    if (f == nullptr || !f->is_string()) {
      return make_error("/" + std::string(key), "expected a string");
    }
    out = std::string(f->get_string());
    return {};
  };
  if (auto r = field("ID", info.id); !r) {
    return r.error();
  }
  (void)field("Name", info.name);
  (void)field("ServerVersion", info.server_version);
  return info;
}

// Written by hand: libstdc++ 12 has no std::chrono::parse, and Boost has no RFC 3339 parser that
// keeps nanosecond fractions and offsets without pulling in Boost.DateTime's locale machinery.
Result<std::optional<std::int64_t>> parse_docker_time_ms(std::string_view text) {
  const auto bad = [&] {
    return make_error("/", "not an RFC 3339 time: \"" + std::string(text.substr(0, 64)) + "\"");
  };
  // YYYY-MM-DDTHH:MM:SS
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    return bad();
  }
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!parse_digits(text.substr(0, 4), year) || !parse_digits(text.substr(5, 2), month) ||
      !parse_digits(text.substr(8, 2), day) || !parse_digits(text.substr(11, 2), hour) ||
      !parse_digits(text.substr(14, 2), minute) || !parse_digits(text.substr(17, 2), second)) {
    return bad();
  }
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (text[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) {
        millis = millis * 10 + (text[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) {
      return bad();
    }
    for (std::size_t d = digits; d < 3; ++d) {
      millis *= 10;
    }
  }
  std::int64_t offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z') && pos + 1 == text.size()) {
    // UTC
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-') &&
             text[pos + 3] == ':') {
    int oh = 0;
    int om = 0;
    if (!parse_digits(text.substr(pos + 1, 2), oh) || !parse_digits(text.substr(pos + 4, 2), om) ||
        oh > 23 || om > 59) {
      return bad();
    }
    offset_minutes = (text[pos] == '-' ? -1 : 1) * (std::int64_t{oh} * 60 + om);
  } else {
    return bad();
  }
  const std::chrono::year_month_day ymd{std::chrono::year{year},
                                        std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) {
    return bad();
  }
  if (year < 1970) {
    // Docker's zero time.Time, "0001-01-01T00:00:00Z": the event never happened.
    return std::optional<std::int64_t>{};
  }
  const auto days = std::chrono::sys_days{ymd}.time_since_epoch().count();
  const std::int64_t seconds = static_cast<std::int64_t>(days) * 86'400 +
                               std::int64_t{hour} * 3'600 + std::int64_t{minute} * 60 + second -
                               offset_minutes * 60;
  return std::optional<std::int64_t>{seconds * 1'000 + millis};
}

Result<ApiVersion> parse_api_version(std::string_view text) {
  const auto dot = text.find('.');
  ApiVersion v;
  if (dot == std::string_view::npos || !parse_digits(text.substr(0, dot), v.major) ||
      !parse_digits(text.substr(dot + 1), v.minor)) {
    return make_error("Api-Version",
                      "not an API version: \"" + std::string(text.substr(0, 32)) + "\"");
  }
  return v;
}

Result<ApiVersion> negotiate_api_version(std::string_view daemon_api_version) {
  auto daemon = parse_api_version(daemon_api_version);
  if (!daemon) {
    return daemon.error();
  }
  if (*daemon < kMinimumApiVersion) {
    return make_error("Api-Version", "the Docker daemon speaks API " + daemon->to_string() +
                                         ", older than the minimum " +
                                         kMinimumApiVersion.to_string() + " (Docker 20.10)");
  }
  return std::min(*daemon, kClientApiVersion);
}

}  // namespace galaxy::docker
