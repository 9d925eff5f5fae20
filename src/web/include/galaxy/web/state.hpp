// What the web view shows of a health event: the state a game is in after it, and the JSON the
// page and scripts read (one object per event, the contract's payload plus the entry id and the
// state).
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "galaxy/common/result.hpp"
#include "galaxy/contract/codec.hpp"
#include "galaxy/contract/event.hpp"

namespace galaxy::web {

enum class HealthState : std::uint8_t { healthy, unhealthy, exited, gone };

// A game's state after its latest event: started or recovered is healthy, an inspect or probe
// finding is unhealthy, an exit or OOM kill is exited, a disappearance is gone. An
// inspect_unhealthy whose Docker state is exited or dead (the inspect that follows an exit) keeps
// the game exited: `inspect_state` is that event's details.state, "" for other types.
HealthState state_after(contract::EventType type, std::string_view inspect_state = "");
HealthState state_after(const contract::Event& event);
std::string_view to_string(HealthState state);

// {"id", "game_id", "container_id", "event_type", "occurred_at_ms", "details", "state"}.
boost::json::object event_json(std::string_view entry_id, const contract::Event& event);

// One Server-Sent Events frame for a stream entry: `event: health` with event_json, or
// `event: invalid` with {"id", "error"} for an entry that is not a health event (readers see it
// and go on, as the contract asks). Both carry `id:` so a resume never replays them.
std::string sse_frame(std::string_view entry_id, const contract::EntryFields& fields);

// Stream entry ids ("MS-SEQ") compared as the two integers they are; nullopt when either is not
// an id. Redis orders a stream by them.
std::optional<int> compare_ids(std::string_view a, std::string_view b);
bool valid_id(std::string_view id);

}  // namespace galaxy::web
