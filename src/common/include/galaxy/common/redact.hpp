// Keeping secrets out of logs and errors: every URL or conninfo string that is logged goes through
// redact_url(), and every error text that came from a library (libpq, hiredis) through scrub()
// with the secrets it might repeat.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace galaxy {

// Replaces a URL's password (userinfo, or a password= query parameter) or a conninfo string's
// password=... with "***"; text that is neither comes back unchanged. Pure, thread-safe.
std::string redact_url(std::string_view text);

// Replaces every occurrence of each non-empty secret in text with "***": the last line of defence
// for error text that came from a library. Pure, thread-safe.
std::string scrub(std::string text, std::span<const std::string> secrets);

}  // namespace galaxy
