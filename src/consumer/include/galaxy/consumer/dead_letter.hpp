// What goes to the dead-letter stream for an entry the group gives up on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "galaxy/contract/codec.hpp"

namespace galaxy::consumer {

// The dead-letter entry's fields, in order: entry_id, reason, consumer, then each original field
// as "orig.<name>" with its value, in the original order (repeats and unknown fields included, so
// the entry can be inspected exactly as it was). Pure, thread-safe.
contract::EntryFields dead_letter_fields(std::string_view entry_id, std::string_view reason,
                                         std::string_view consumer,
                                         const contract::EntryFields& original);

// "delivery limit N exceeded"
std::string delivery_limit_reason(std::int64_t max_deliveries);

}  // namespace galaxy::consumer
