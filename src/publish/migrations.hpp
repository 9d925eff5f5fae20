// The schema migrations embedded in the binary (generated from migrations/*.sql at configure
// time), in file name order; the leading number of a file name is its version.
#pragma once

#include <string_view>
#include <vector>

namespace galaxy::publish {

struct Migration {
  std::string_view name;
  std::string_view sql;
};

const std::vector<Migration>& migrations();

}  // namespace galaxy::publish
