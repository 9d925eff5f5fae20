#include "galaxy/consumer/dead_letter.hpp"

#include <fmt/format.h>

namespace galaxy::consumer {

contract::EntryFields dead_letter_fields(std::string_view entry_id, std::string_view reason,
                                         std::string_view consumer,
                                         const contract::EntryFields& original) {
  contract::EntryFields out;
  out.reserve(3 + original.size());
  out.push_back({"entry_id", std::string(entry_id)});
  out.push_back({"reason", std::string(reason)});
  out.push_back({"consumer", std::string(consumer)});
  for (const auto& f : original) {
    out.push_back({"orig." + f.name, f.value});
  }
  return out;
}

std::string delivery_limit_reason(std::int64_t max_deliveries) {
  return fmt::format("delivery limit {} exceeded", max_deliveries);
}

}  // namespace galaxy::consumer
