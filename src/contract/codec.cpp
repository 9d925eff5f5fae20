#include "galaxy/contract/codec.hpp"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdint>
#include <optional>

#include "galaxy/common/utf8.hpp"
#include "galaxy/contract/strict_json.hpp"

namespace galaxy::contract {

namespace {

using strict::JsonKind;
using strict::JsonNode;

// --- encoding -----------------------------------------------------------------------------------

void append_string(std::string& out, std::string_view s) {
  // Boost.JSON's serializer is the one escaping rule of the canonical form.
  out += boost::json::serialize(boost::json::string_view(s.data(), s.size()));
}

void append_key(std::string& out, std::string_view key) {
  out.push_back('"');
  out.append(key);  // contract keys are plain ASCII identifiers
  out += "\":";
}

struct DetailsEncoder {
  std::string& out;
  void operator()(const ContainerStarted& d) const {
    append_key(out, "image_ref");
    append_string(out, d.image_ref);
  }
  void operator()(const ContainerExited& d) const {
    append_key(out, "exit_code");
    out += std::to_string(d.exit_code);
    out.push_back(',');
    append_key(out, "oom");
    out += d.oom ? "true" : "false";
  }
  void operator()(const ContainerOom& d) const {
    append_key(out, "exit_code");
    out += std::to_string(d.exit_code);
  }
  void operator()(const ContainerDisappeared& /*d*/) const {}
  void operator()(const InspectUnhealthy& d) const {
    append_key(out, "restart_count");
    out += std::to_string(d.restart_count);
    out.push_back(',');
    append_key(out, "state");
    append_string(out, d.state);
    out.push_back(',');
    append_key(out, "health");
    append_string(out, d.health);
  }
  void operator()(const ProbeFailed& d) const {
    append_key(out, "consecutive_failures");
    out += std::to_string(d.consecutive_failures);
    out.push_back(',');
    append_key(out, "last_status");
    out += std::to_string(d.last_status);
    out.push_back(',');
    append_key(out, "last_error");
    append_string(out, d.last_error);
  }
  void operator()(const ProbeRecovered& d) const {
    append_key(out, "prior_failure_count");
    out += std::to_string(d.prior_failure_count);
  }
};

void append_details(std::string& out, const Details& details) {
  out.push_back('{');
  std::visit(DetailsEncoder{out}, details);
  out.push_back('}');
}

// --- decoding -----------------------------------------------------------------------------------

enum class FieldKind : std::uint8_t { string, integer, boolean };

struct FieldSpec {
  std::string_view name;
  FieldKind kind;
};

// The closed field set of each details variant, in contract order, indexed by EventType.
constexpr FieldSpec kStarted[] = {{"image_ref", FieldKind::string}};
constexpr FieldSpec kExited[] = {{"exit_code", FieldKind::integer}, {"oom", FieldKind::boolean}};
constexpr FieldSpec kOom[] = {{"exit_code", FieldKind::integer}};
constexpr FieldSpec kUnhealthy[] = {{"restart_count", FieldKind::integer},
                                    {"state", FieldKind::string},
                                    {"health", FieldKind::string}};
constexpr FieldSpec kProbeFailed[] = {{"consecutive_failures", FieldKind::integer},
                                      {"last_status", FieldKind::integer},
                                      {"last_error", FieldKind::string}};
constexpr FieldSpec kProbeRecovered[] = {{"prior_failure_count", FieldKind::integer}};

constexpr std::array<std::span<const FieldSpec>, kEventTypeCount> kVariants = {
    kStarted,   kExited,      kOom,           std::span<const FieldSpec>{},
    kUnhealthy, kProbeFailed, kProbeRecovered};

std::string_view describe(FieldKind k) {
  switch (k) {
    case FieldKind::string:
      return "a string";
    case FieldKind::integer:
      return "an integer";
    case FieldKind::boolean:
      return "a boolean";
  }
  return "";
}

std::optional<Error> check_kind(const JsonNode& node, FieldKind want, const std::string& path) {
  const bool ok = (want == FieldKind::string && node.kind == JsonKind::string) ||
                  (want == FieldKind::integer && node.kind == JsonKind::integer) ||
                  (want == FieldKind::boolean && node.kind == JsonKind::boolean);
  if (ok) {
    return std::nullopt;
  }
  std::string reason = "must be " + std::string(describe(want)) + ", got " +
                       std::string(strict::describe(node.kind));
  if (!node.text.empty() &&
      (node.kind == JsonKind::out_of_range || node.kind == JsonKind::non_integer)) {
    reason += " (" + node.text.substr(0, 32) + (node.text.size() > 32 ? "..." : "") + ")";
  }
  return Error{path, std::move(reason)};
}

const JsonNode* find_member(const JsonNode& obj, std::string_view name) {
  for (const auto& [key, value] : obj.members) {
    if (key == name) {
      return &value;
    }
  }
  return nullptr;
}

bool has_field(std::span<const FieldSpec> spec, std::string_view name) {
  for (const auto& f : spec) {
    if (f.name == name) {
      return true;
    }
  }
  return false;
}

// True when obj's keys are exactly the fields of spec.
bool keys_match(const JsonNode& obj, std::span<const FieldSpec> spec) {
  if (obj.members.size() != spec.size()) {
    return false;
  }
  for (const auto& [key, value] : obj.members) {
    if (!has_field(spec, key)) {
      return false;
    }
  }
  return true;
}

// With an unknown field present, a details object that is exactly another variant is reported as
// the mismatch it is, rather than as a list of stray fields.
std::optional<Error> mismatch(const JsonNode& obj, EventType type, const std::string& path) {
  for (std::size_t i = 0; i < kVariants.size(); ++i) {
    if (i != static_cast<std::size_t>(type) && keys_match(obj, kVariants[i])) {
      return Error{path, "holds " + std::string(kEventTypeNames[i]) +
                             " details, but event_type is " + std::string(to_string(type))};
    }
  }
  return std::nullopt;
}

Result<Details> decode_details(const JsonNode& obj, EventType type, const std::string& path) {
  if (obj.kind != JsonKind::object) {
    return make_error(path, "must be an object, got " + std::string(strict::describe(obj.kind)));
  }
  const auto spec = kVariants[static_cast<std::size_t>(type)];
  for (const auto& [key, value] : obj.members) {
    if (!has_field(spec, key)) {
      if (auto e = mismatch(obj, type, path)) {
        return *e;
      }
      return make_error(json_pointer_append(path, key),
                        "unknown field (not in " + std::string(to_string(type)) + " details)");
    }
  }
  std::array<const JsonNode*, 3> values{};
  for (std::size_t i = 0; i < spec.size(); ++i) {
    const std::string where = json_pointer_append(path, spec[i].name);
    values[i] = find_member(obj, spec[i].name);
    if (values[i] == nullptr) {
      return make_error(where, "missing required field");
    }
    if (auto e = check_kind(*values[i], spec[i].kind, where)) {
      return *e;
    }
  }
  switch (type) {
    case EventType::container_started:
      return Details{ContainerStarted{values[0]->text}};
    case EventType::container_exited:
      return Details{ContainerExited{values[0]->integer, values[1]->boolean}};
    case EventType::container_oom:
      return Details{ContainerOom{values[0]->integer}};
    case EventType::container_disappeared:
      return Details{ContainerDisappeared{}};
    case EventType::inspect_unhealthy:
      return Details{InspectUnhealthy{values[0]->integer, values[1]->text, values[2]->text}};
    case EventType::probe_failed:
      return Details{ProbeFailed{values[0]->integer, values[1]->integer, values[2]->text}};
    case EventType::probe_recovered:
      return Details{ProbeRecovered{values[0]->integer}};
  }
  return make_error(path, "unreachable event type");
}

Result<EventType> decode_event_type(std::string_view s, const std::string& path) {
  if (auto t = parse_event_type(s)) {
    return *t;
  }
  std::string shown(s.substr(0, 64));
  return make_error(path, "unknown event_type '" + shown + "' (not one of the contract's seven)");
}

std::optional<Error> check_id(std::string_view value, const std::string& path) {
  if (value.empty()) {
    return Error{path, "must not be empty"};
  }
  return std::nullopt;
}

// GCC 12 at -O3 warns (-Wrestrict, a known false positive) on `"/" + std::string(x)`.
std::string field_path(std::string_view name) {
  std::string p = "/";
  p.append(name);
  return p;
}

std::string too_large(std::size_t size, std::size_t max) {
  return "input is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(max) +
         " bytes";
}

constexpr std::string_view kPayloadFields[] = {"game_id", "container_id", "event_type",
                                               "occurred_at_ms", "details"};

Result<Event> decode_object(const JsonNode& root) {
  for (const auto& [key, value] : root.members) {
    bool known = false;
    for (auto f : kPayloadFields) {
      known = known || f == key;
    }
    if (!known) {
      return make_error(json_pointer_append("", key), "unknown field");
    }
  }
  std::array<const JsonNode*, 5> v{};
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = find_member(root, kPayloadFields[i]);
    const std::string path = field_path(kPayloadFields[i]);
    if (v[i] == nullptr) {
      return make_error(path, "missing required field");
    }
    const FieldKind want = i == 3 ? FieldKind::integer : FieldKind::string;
    if (i == 4) {
      continue;  // details: checked against its variant below
    }
    if (auto e = check_kind(*v[i], want, path)) {
      return *e;
    }
    if (i < 2) {
      if (auto e = check_id(v[i]->text, path)) {
        return *e;
      }
    }
  }
  auto type = decode_event_type(v[2]->text, "/event_type");
  if (!type) {
    return type.error();
  }
  auto details = decode_details(*v[4], *type, "/details");
  if (!details) {
    return details.error();
  }
  return Event{v[0]->text, v[1]->text, v[3]->integer, std::move(*details)};
}

// occurred_at_ms on a stream entry: optional '-', no '+', no leading zeros, no spaces, int64.
Result<std::int64_t> decode_canonical_int64(std::string_view s, const std::string& path) {
  const std::string_view digits = (!s.empty() && s[0] == '-') ? s.substr(1) : s;
  bool all_digits = !digits.empty();
  for (char c : digits) {
    all_digits = all_digits && c >= '0' && c <= '9';
  }
  if (!all_digits) {
    return make_error(path, "must be a decimal integer (optional '-', digits only)");
  }
  if ((digits.size() > 1 && digits[0] == '0') || s == "-0") {
    return make_error(path, "must be canonical: no leading zeros and no '-0'");
  }
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size()) {
    return make_error(path, "integer outside int64");
  }
  return v;
}

}  // namespace

Result<void> check(const Event& event) {
  if (auto e = check_id(event.game_id, "/game_id")) {
    return *e;
  }
  if (auto e = check_id(event.container_id, "/container_id")) {
    return *e;
  }
  // Re-decoding the encoding checks every string's UTF-8 with the decoder's own rules.
  auto back = decode_payload(encode_payload(event), DecodeLimits{SIZE_MAX, 8});
  if (!back) {
    return back.error();
  }
  return {};
}

std::string encode_details(const Details& details) {
  std::string out;
  append_details(out, details);
  return out;
}

std::string encode_payload(const Event& event) {
  std::string out;
  out.reserve(128 + event.game_id.size() + event.container_id.size());
  out += "{\"game_id\":";
  append_string(out, event.game_id);
  out += ",\"container_id\":";
  append_string(out, event.container_id);
  out += ",\"event_type\":\"";
  out += to_string(event.type());
  out += "\",\"occurred_at_ms\":";
  out += std::to_string(event.occurred_at_ms);
  out += ",\"details\":";
  append_details(out, event.details);
  out.push_back('}');
  return out;
}

EntryFields encode_entry(const Event& event) {
  return EntryFields{
      {"game_id", event.game_id},
      {"container_id", event.container_id},
      {"event_type", std::string(to_string(event.type()))},
      {"occurred_at_ms", std::to_string(event.occurred_at_ms)},
      {"details", encode_details(event.details)},
  };
}

Result<Event> decode_payload(std::string_view json, const DecodeLimits& limits) {
  if (json.size() > limits.max_bytes) {
    return make_error("/", too_large(json.size(), limits.max_bytes));
  }
  auto root = strict::parse_strict(json, limits.max_depth);
  if (!root) {
    return root.error();
  }
  if (root->kind != JsonKind::object) {
    return make_error("/",
                      "must be a JSON object, got " + std::string(strict::describe(root->kind)));
  }
  return decode_object(*root);
}

Result<Event> decode_entry(std::span<const EntryFieldView> fields, const DecodeLimits& limits) {
  std::array<std::optional<std::string_view>, kEntryFields.size()> v;
  for (const auto& f : fields) {
    std::size_t i = 0;
    while (i < kEntryFields.size() && kEntryFields[i] != f.name) {
      ++i;
    }
    const std::string path = json_pointer_append("", f.name);
    if (i == kEntryFields.size()) {
      return make_error(path, "unknown field");
    }
    if (v[i]) {
      return make_error(path, "repeated field");
    }
    v[i] = f.value;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i]) {
      return make_error(field_path(kEntryFields[i]), "missing required field");
    }
    if (v[i]->size() > limits.max_bytes) {
      return make_error(field_path(kEntryFields[i]), too_large(v[i]->size(), limits.max_bytes));
    }
  }
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string path = field_path(kEntryFields[i]);
    if (!is_valid_utf8(*v[i])) {
      return make_error(path, "invalid UTF-8");
    }
    if (i < 2) {
      if (auto e = check_id(*v[i], path)) {
        return *e;
      }
    }
  }
  auto type = decode_event_type(*v[2], "/event_type");
  if (!type) {
    return type.error();
  }
  auto at = decode_canonical_int64(*v[3], "/occurred_at_ms");
  if (!at) {
    return at.error();
  }
  auto node = strict::parse_strict(*v[4], limits.max_depth);
  if (!node) {
    const Error& e = node.error();
    return make_error(e.path == "/" ? "/details" : "/details" + e.path, e.reason);
  }
  auto details = decode_details(*node, *type, "/details");
  if (!details) {
    return details.error();
  }
  return Event{std::string(*v[0]), std::string(*v[1]), *at, std::move(*details)};
}

Result<Event> decode_entry(const EntryFields& fields, const DecodeLimits& limits) {
  std::vector<EntryFieldView> views;
  views.reserve(fields.size());
  for (const auto& f : fields) {
    views.push_back({f.name, f.value});
  }
  return decode_entry(std::span<const EntryFieldView>(views), limits);
}

}  // namespace galaxy::contract
