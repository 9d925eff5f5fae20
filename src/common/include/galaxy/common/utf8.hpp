// UTF-8 validity, shared by the contract decoder and label checks.
#pragma once

#include <boost/locale/utf.hpp>
#include <string_view>

namespace galaxy {

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
inline bool is_valid_utf8(std::string_view s) {
  using traits = boost::locale::utf::utf_traits<char>;
  const char* p = s.data();
  const char* end = p + s.size();
  while (p != end) {
    const auto cp = traits::decode(p, end);
    if (cp == boost::locale::utf::illegal || cp == boost::locale::utf::incomplete) {
      return false;
    }
  }
  return true;
}

}  // namespace galaxy
