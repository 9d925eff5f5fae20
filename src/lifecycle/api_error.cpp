#include "galaxy/lifecycle/api_error.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>

namespace galaxy::lifecycle {

std::string error_json(const ApiError& e) {
  const auto quoted = [](const std::string& s) {
    return boost::json::serialize(boost::json::string_view(s.data(), s.size()));
  };
  return "{\"error\":{\"code\":" + quoted(e.code) + ",\"message\":" + quoted(e.message) +
         ",\"field\":" + quoted(e.field) + "}}";
}

}  // namespace galaxy::lifecycle
