#include "galaxy/cli/engines.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/url.hpp>
#include <charconv>
#include <limits>

#include "galaxy/cli/commands.hpp"
#include "galaxy/cli/render.hpp"

namespace galaxy::cli {

namespace {

namespace json = boost::json;

constexpr std::string_view kSizeHelp = "a size like 64m, 1g, 512k or a number of bytes";

// /v1/engines, then each part as one percent-encoded segment: a game ID with '/' or '?' in it
// stays one segment instead of changing which resource is asked for.
std::string engines_target(std::initializer_list<std::string_view> segments) {
  boost::urls::url u;
  u.set_path("/v1/engines");
  for (const auto s : segments) {
    u.segments().push_back(s);
  }
  return std::string(u.encoded_path());
}

json::object string_map(const std::vector<std::pair<std::string, std::string>>& pairs) {
  json::object o;
  for (const auto& [k, v] : pairs) {
    o[k] = v;
  }
  return o;
}

const json::value* member(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

// What a table shows for a value of a record; the API's types are not re-checked here, so a
// daemon newer than this CLI still renders.
std::string cell(const json::value* v) {
  if (v == nullptr) {
    return "-";
  }
  if (v->is_string()) {
    return v->as_string().empty() ? "-" : std::string(v->as_string());
  }
  if (v->is_int64()) {
    return std::to_string(v->as_int64());
  }
  if (v->is_uint64()) {
    return std::to_string(v->as_uint64());
  }
  if (v->is_bool()) {
    return v->as_bool() ? "true" : "false";
  }
  return json::serialize(*v);
}

std::string cell(const json::object& o, std::string_view key) {
  return cell(member(o, key));
}

std::string docker_status(const json::object& record) {
  if (const auto* missing = member(record, "container_missing");
      missing != nullptr && missing->is_bool() && missing->as_bool()) {
    return "missing";
  }
  const auto* docker = member(record, "docker");
  if (docker == nullptr || !docker->is_object()) {
    return "-";
  }
  const auto& d = docker->as_object();
  std::string status = cell(d, "status");
  if (const auto* code = member(d, "exit_code"); status == "exited" && code != nullptr) {
    status += " (" + cell(code) + ")";
  }
  if (const auto* oom = member(d, "oom_killed");
      oom != nullptr && oom->is_bool() && oom->as_bool()) {
    status += " oom";
  }
  return status;
}

std::string image(const json::object& record) {
  const auto* spec = member(record, "spec");
  return spec != nullptr && spec->is_object() ? cell(spec->as_object(), "image") : "-";
}

Table engine_table(const std::vector<const json::object*>& records, const OutputOptions& output) {
  const bool wide = output.format == OutputFormat::wide;
  Table table;
  if (output.headers) {
    table.headers = {"GAME",    "INCARNATION",   "CONTAINER", "STATE",
                     "DESIRED", "DOCKER STATUS", "ACTION BY", "UPDATED"};
    if (wide) {
      table.headers.insert(table.headers.end(),
                           {"IMAGE", "HOST", "CONTAINER ID", "ACTION", "ERROR"});
    }
  }
  for (const auto* r : records) {
    const auto container = cell(*r, "container_id");
    std::vector<std::string> cells{
        cell(*r, "game_id"),   cell(*r, "incarnation"), std::string(short_container_id(container)),
        cell(*r, "state"),     cell(*r, "desired"),     docker_status(*r),
        cell(*r, "action_by"), cell(*r, "updated_at")};
    if (wide) {
      cells.insert(cells.end(), {image(*r), cell(*r, "host_id"), container, cell(*r, "action"),
                                 cell(*r, "error")});
    }
    table.rows.push_back(std::move(cells));
  }
  return table;
}

// Errors, oddly shaped answers included, go on one line each.
std::string single_line(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n' || c == '\r') {
      c = ' ';
    }
  }
  return out;
}

}  // namespace

Result<std::int64_t> parse_size(std::string_view text) {
  const auto quoted = "'" + std::string(text) + "'";
  if (text.empty()) {
    return make_error("size", "empty: expected " + std::string(kSizeHelp));
  }
  std::uint64_t n = 0;
  const auto* end = text.data() + text.size();
  const auto [digits_end, ec] = std::from_chars(text.data(), end, n);
  if (digits_end == text.data()) {
    return make_error("size", quoted + " is not " + std::string(kSizeHelp));
  }
  const std::string_view unit(digits_end, static_cast<std::size_t>(end - digits_end));
  std::uint64_t multiplier = 1;
  if (unit == "k" || unit == "K") {
    multiplier = std::uint64_t{1} << 10U;
  } else if (unit == "m" || unit == "M") {
    multiplier = std::uint64_t{1} << 20U;
  } else if (unit == "g" || unit == "G") {
    multiplier = std::uint64_t{1} << 30U;
  } else if (!unit.empty()) {
    return make_error("size", quoted + ": unknown unit '" + std::string(unit) +
                                  "' (k, m or g, 1024-based; none for bytes)");
  }
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (ec == std::errc::result_out_of_range || n > kMax / multiplier) {
    return make_error("size", quoted + " is too large");
  }
  if (n == 0) {
    return make_error("size", quoted + ": must be more than 0");
  }
  return static_cast<std::int64_t>(n * multiplier);
}

Result<std::pair<std::string, std::string>> parse_key_value(std::string_view text,
                                                            std::string_view flag) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    return make_error(std::string(flag),
                      "'" + std::string(text) + "' is not KEY=VALUE (no '=' in it)");
  }
  if (eq == 0) {
    return make_error(std::string(flag), "'" + std::string(text) + "' has an empty KEY");
  }
  return std::pair<std::string, std::string>{std::string(text.substr(0, eq)),
                                             std::string(text.substr(eq + 1))};
}

json::object engine_spec_json(const EngineSpec& spec) {
  json::object o{{"game_id", spec.game_id}, {"image", spec.image}};
  if (!spec.cmd.empty()) {
    o["cmd"] = json::array(spec.cmd.begin(), spec.cmd.end());
  }
  if (!spec.env.empty()) {
    o["env"] = string_map(spec.env);
  }
  if (!spec.labels.empty()) {
    o["labels"] = string_map(spec.labels);
  }
  if (spec.healthz) {
    o["healthz"] = json::object{{"port", spec.healthz->port}, {"path", spec.healthz->path}};
  }
  if (spec.memory_bytes) {
    o["memory_bytes"] = *spec.memory_bytes;
  }
  if (spec.cpus) {
    o["cpus"] = *spec.cpus;
  }
  if (spec.network) {
    o["network"] = *spec.network;
  }
  return o;
}

ApiRequest run_request(const EngineSpec& spec) {
  return {"POST", engines_target({}), json::serialize(engine_spec_json(spec))};
}

ApiRequest list_request() {
  return {"GET", engines_target({}), {}};
}

ApiRequest show_request(std::string_view game_id) {
  return {"GET", engines_target({game_id}), {}};
}

ApiRequest stop_request(std::string_view game_id, std::optional<std::int64_t> timeout_s) {
  return {"POST", engines_target({game_id, "stop"}),
          timeout_s ? json::serialize(json::object{{"timeout_s", *timeout_s}}) : std::string()};
}

ApiRequest restart_request(std::string_view game_id) {
  return {"POST", engines_target({game_id, "restart"}), {}};
}

ApiRequest remove_request(std::string_view game_id) {
  return {"DELETE", engines_target({game_id}), {}};
}

std::string render_engines(const std::vector<json::object>& records, const OutputOptions& output) {
  if (output.format == OutputFormat::json) {
    json::array a;
    a.reserve(records.size());
    for (const auto& r : records) {
      a.emplace_back(r);
    }
    return json::serialize(a) + "\n";
  }
  std::vector<const json::object*> rows;
  rows.reserve(records.size());
  for (const auto& r : records) {
    rows.push_back(&r);
  }
  return render_table(engine_table(rows, output), output.color);
}

std::string render_engine(const json::object& record, const OutputOptions& output) {
  if (output.format == OutputFormat::json) {
    return json::serialize(record) + "\n";
  }
  return render_table(engine_table({&record}, output), output.color);
}

std::string render_api_error(const ApiError& error) {
  std::string line = "galaxy-health: " + error.code + ": " + error.message;
  if (!error.field.empty()) {
    line += " (field " + error.field + ")";
  }
  return single_line(line) + "\n";
}

int engines(const EnginesConnection& conn, const ApiRequest& request, EnginesCall call,
            const OutputOptions& output, std::ostream& out, std::ostream& err) {
  auto address = parse_api_url(conn.api_url);
  if (!address) {
    err << "galaxy-health: " << address.error().message() << "\n";
    return kExitUsage;
  }
  std::string token;
  if (!conn.token_file.empty()) {
    auto t = read_token_file(conn.token_file);
    if (!t) {
      err << "galaxy-health: " << t.error().message() << "\n";
      return kExitUsage;
    }
    token = std::move(*t);
  }
  auto response = send_request(*address, request, token, conn.timeouts);
  if (!response) {
    const auto& e = response.error();
    err << "galaxy-health: "
        << (e.kind == ErrorKind::io ? "cannot reach the API at " : "the API at ") << address->url
        << ": " << e.reason << "\n";
    return kExitFailure;
  }
  if (response->status >= 400) {
    err << render_api_error(parse_api_error(response->status, response->body));
    return kExitFailure;
  }
  auto unexpected = [&](std::string_view what) {
    err << "galaxy-health: the API at " << address->url << " answered " << request.method << " "
        << request.target << " with " << what << "\n";
    return kExitFailure;
  };
  if (response->status != 200 && response->status != 201) {
    return unexpected("HTTP " + std::to_string(response->status) + ", not 200 or 201");
  }
  boost::system::error_code ec;
  const json::value doc = json::parse(response->body, ec);
  if (ec) {
    return unexpected("a body that is not JSON (" + ec.message() + ")");
  }
  if (call == EnginesCall::one) {
    if (!doc.is_object()) {
      return unexpected("JSON that is not a record");
    }
    out << render_engine(doc.as_object(), output) << std::flush;
    return kExitOk;
  }
  const auto* list = doc.is_object() ? doc.as_object().if_contains("engines") : nullptr;
  if (list == nullptr || !list->is_array()) {
    return unexpected("JSON without an \"engines\" array");
  }
  std::vector<json::object> records;
  records.reserve(list->as_array().size());
  for (const auto& r : list->as_array()) {
    if (!r.is_object()) {
      return unexpected("an \"engines\" entry that is not a record");
    }
    records.push_back(r.as_object());
  }
  out << render_engines(records, output) << std::flush;
  return kExitOk;
}

}  // namespace galaxy::cli
