// Where PostgreSQL is, from a --postgres-url (URI or conninfo string), with our deadlines added,
// and how to name it without ever showing the password (Target::describe).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "galaxy/common/result.hpp"

namespace galaxy::pg {

struct ConnectSettings {
  std::chrono::seconds connect_timeout{5};
  std::chrono::milliseconds statement_timeout{10'000};
  std::chrono::milliseconds client_check_interval{1'000};
  // A transaction whose client stopped sending (a frozen daemon in the middle of a pipeline)
  // is ended by the server, so the row locks it holds do not stop a standby's takeover.
  std::chrono::milliseconds idle_in_transaction_timeout{5'000};
  // 0: none. The lease's connection sets one, so a takeover blocked on a lock is retried, not
  // waited on forever.
  std::chrono::milliseconds lock_timeout{0};
  std::string application_name = "galaxy-runtime-manager";
};

// Keyword/value pairs ready for libpq, built with libpq's own parser from a URI
// (postgresql://...) or a conninfo string ("host=... dbname=..."), with the deadlines added
// (connect_timeout, statement_timeout, client_connection_check_interval,
// idle_in_transaction_session_timeout, lock_timeout, TCP keepalives and tcp_user_timeout) unless
// the operator set them.
struct Target {
  std::vector<std::pair<std::string, std::string>> params;
  std::string password;  // "" when none was given (kept to scrub it from libpq's messages)
  std::string describe;  // "host=... port=... dbname=... user=...": safe to log
  // How long Conn::open waits in all: the operator's connect_timeout (libpq ignores it for a
  // non-blocking connect, and rounds 1 up to 2), else the settings'.
  std::chrono::milliseconds connect_timeout{5'000};
};

// Errors name the part at fault ("/" for the whole text, "/connect_timeout") and never repeat the
// password. Pure, thread-safe.
Result<Target> parse_target(std::string_view url_or_conninfo, const ConnectSettings& settings = {});

}  // namespace galaxy::pg
