#include "galaxy/common/redact.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

namespace galaxy {

std::string redact_url(std::string_view text) {
  if (text.find("://") != std::string_view::npos) {
    const auto parsed = boost::urls::parse_uri(text);
    if (!parsed) {
      return "(unparsable URL)";  // it may hold a password in a place we cannot find
    }
    boost::urls::url u(*parsed);
    if (u.has_password()) {
      u.set_password("***");
    }
    if (u.params().contains("password")) {
      u.params().set("password", "***");
    }
    return std::string(u.buffer());
  }
  // conninfo: key = value pairs, values optionally single-quoted with backslash escapes.
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t key_at = text.find("password", i);
    if (key_at == std::string_view::npos) {
      break;
    }
    std::size_t j = key_at + 8;
    while (j < text.size() && text[j] == ' ') {
      ++j;
    }
    const bool is_key =
        (key_at == 0 || text[key_at - 1] == ' ') && j < text.size() && text[j] == '=';
    if (!is_key) {
      out.append(text.substr(i, j - i));
      i = j;
      continue;
    }
    ++j;
    while (j < text.size() && text[j] == ' ') {
      ++j;
    }
    out.append(text.substr(i, j - i));
    out.append("***");
    if (j < text.size() && text[j] == '\'') {
      ++j;
      while (j < text.size() && text[j] != '\'') {
        j += text[j] == '\\' ? 2 : 1;
      }
      ++j;
    } else {
      while (j < text.size() && text[j] != ' ') {
        ++j;
      }
    }
    i = std::min(j, text.size());
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

std::string scrub(std::string text, std::span<const std::string> secrets) {
  for (const auto& s : secrets) {
    if (s.empty()) {
      continue;
    }
    for (std::size_t at = text.find(s); at != std::string::npos; at = text.find(s, at + 3)) {
      text.replace(at, s.size(), "***");
    }
  }
  return text;
}

}  // namespace galaxy
