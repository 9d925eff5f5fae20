// The page's files, embedded at build time from src/web/assets/.
#pragma once

#include <string_view>
#include <vector>

namespace galaxy::web {

struct Asset {
  std::string_view path;  // "/index.html", "/app.js", "/app.css"
  std::string_view body;
};

const std::vector<Asset>& assets();

}  // namespace galaxy::web
