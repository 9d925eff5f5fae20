// JSON pointers (RFC 6901) for error paths, shared by every parser that names where input broke.
#pragma once

#include <string>
#include <string_view>

namespace galaxy {

// base + "/" + key, escaping '~' as "~0" and '/' as "~1"; a base of "/" is the root.
inline std::string json_pointer_append(std::string_view base, std::string_view key) {
  std::string out(base == "/" ? std::string_view{} : base);
  out.push_back('/');
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace galaxy
