// Where PostgreSQL is, from the daemon's --postgres-url, and how to talk about it without ever
// showing a password (logs, errors and stats go through PgTarget::describe, redact_url() and
// scrub()). Redis URLs are parsed in galaxy/common/redis_url.hpp, shared with the consumer.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "galaxy/common/result.hpp"

namespace galaxy::publish {

struct PgConnectSettings {
  std::chrono::seconds connect_timeout{5};
  std::chrono::milliseconds statement_timeout{10'000};
  std::string application_name = "galaxy-runtime-manager";
};

// A libpq target: keyword/value pairs ready for PQconnectdbParams, built with libpq's own parser
// from either a URI (postgresql://...) or a conninfo string ("host=... dbname=..."), with the
// deadlines added (connect_timeout, statement_timeout, TCP keepalives and tcp_user_timeout) unless
// the operator set them.
struct PgTarget {
  std::vector<std::pair<std::string, std::string>> params;
  std::string password;  // "" when none was given (kept to scrub it from libpq's messages)
  std::string describe;  // "host=... port=... dbname=... user=...": safe to log
};

Result<PgTarget> parse_postgres_target(std::string_view url_or_conninfo,
                                       const PgConnectSettings& settings = {});

// Replaces a URL's password (userinfo, or a password= query parameter) or a conninfo string's
// password=... with "***"; text that is neither comes back unchanged.
std::string redact_url(std::string_view text);

// Replaces every occurrence of each non-empty secret in text with "***": the last line of defence
// for error text that came from a library.
std::string scrub(std::string text, std::span<const std::string> secrets);

}  // namespace galaxy::publish
