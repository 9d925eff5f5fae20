#include "galaxy/web/state.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdint>
#include <optional>

namespace galaxy::web {

namespace {

struct Id {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
};

std::optional<Id> parse_id(std::string_view s) {
  const auto dash = s.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == s.size()) {
    return std::nullopt;
  }
  Id id;
  const auto* end_ms = s.data() + dash;
  if (auto r = std::from_chars(s.data(), end_ms, id.ms); r.ec != std::errc{} || r.ptr != end_ms) {
    return std::nullopt;
  }
  const auto* end = s.data() + s.size();
  if (auto r = std::from_chars(end_ms + 1, end, id.seq); r.ec != std::errc{} || r.ptr != end) {
    return std::nullopt;
  }
  return id;
}

}  // namespace

HealthState state_after(contract::EventType type, std::string_view inspect_state) {
  using T = contract::EventType;
  switch (type) {
    case T::container_started:
    case T::probe_recovered:
      return HealthState::healthy;
    case T::inspect_unhealthy:
      return inspect_state == "exited" || inspect_state == "dead" ? HealthState::exited
                                                                  : HealthState::unhealthy;
    case T::probe_failed:
      return HealthState::unhealthy;
    case T::container_exited:
    case T::container_oom:
      return HealthState::exited;
    case T::container_disappeared:
      return HealthState::gone;
  }
  return HealthState::unhealthy;  // not reached: every type is named above
}

HealthState state_after(const contract::Event& event) {
  const auto* inspect = std::get_if<contract::InspectUnhealthy>(&event.details);
  return state_after(event.type(), inspect != nullptr ? inspect->state : "");
}

std::string_view to_string(HealthState state) {
  switch (state) {
    case HealthState::healthy:
      return "healthy";
    case HealthState::unhealthy:
      return "unhealthy";
    case HealthState::exited:
      return "exited";
    case HealthState::gone:
      return "gone";
  }
  return "unhealthy";
}

boost::json::object event_json(std::string_view entry_id, const contract::Event& event) {
  // The canonical payload is the contract's closed object; only the entry id and the derived
  // state are added, beside it, never inside details.
  boost::json::object o;
  o["id"] = entry_id;
  boost::json::value payload = boost::json::parse(contract::encode_payload(event));
  for (auto& field : payload.as_object()) {
    o[field.key()] = std::move(field.value());
  }
  o["state"] = to_string(state_after(event));
  return o;
}

std::string sse_frame(std::string_view entry_id, const contract::EntryFields& fields) {
  std::string frame = "id: ";
  frame += entry_id;
  auto event = contract::decode_entry(fields);
  if (event) {
    frame += "\nevent: health\ndata: ";
    frame += boost::json::serialize(event_json(entry_id, *event));
  } else {
    frame += "\nevent: invalid\ndata: ";
    frame += boost::json::serialize(boost::json::object{
        {"id", entry_id}, {"error", event.error().path + ": " + event.error().reason}});
  }
  frame += "\n\n";
  return frame;
}

std::optional<int> compare_ids(std::string_view a, std::string_view b) {
  auto x = parse_id(a);
  auto y = parse_id(b);
  if (!x || !y) {
    return std::nullopt;
  }
  if (x->ms != y->ms) {
    return x->ms < y->ms ? -1 : 1;
  }
  if (x->seq != y->seq) {
    return x->seq < y->seq ? -1 : 1;
  }
  return 0;
}

bool valid_id(std::string_view id) {
  return parse_id(id).has_value();
}

}  // namespace galaxy::web
