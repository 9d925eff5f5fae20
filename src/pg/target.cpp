#include "galaxy/pg/target.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <set>

namespace galaxy::pg {

Result<Target> parse_target(std::string_view url_or_conninfo, const ConnectSettings& settings) {
  char* err = nullptr;
  const std::string text(url_or_conninfo);
  const std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> opts(
      PQconninfoParse(text.c_str(), &err), &PQconninfoFree);
  if (!opts) {
    std::string why = err != nullptr ? err : "out of memory";
    PQfreemem(err);
    while (!why.empty() && why.back() == '\n') {
      why.pop_back();
    }
    return make_error("/", "not a PostgreSQL URI or conninfo string: " + why);
  }
  Target t;
  t.connect_timeout = settings.connect_timeout;
  std::set<std::string> given;
  std::string options;
  for (const auto* o = opts.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) {
      continue;
    }
    const std::string key = o->keyword;
    given.insert(key);
    if (key == "connect_timeout") {
      long seconds = 0;
      const std::string_view v(o->val);
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
      if (ec != std::errc() || end != v.data() + v.size() || seconds < 0) {
        return make_error("/connect_timeout", "must be a whole number of seconds");
      }
      // libpq's own reading: 0 means none; ours always has a deadline, so 0 keeps the default.
      if (seconds > 0) {
        t.connect_timeout = std::chrono::seconds(std::max(2L, seconds));
      }
    }
    if (key == "password") {
      t.password = o->val;
    } else if (key == "options") {
      options = o->val;
      continue;
    }
    t.params.emplace_back(key, o->val);
  }
  const auto add_default = [&](const std::string& k, std::string v) {
    if (!given.contains(k)) {
      t.params.emplace_back(k, std::move(v));
    }
  };
  add_default("connect_timeout",
              std::to_string(std::max<long>(1, settings.connect_timeout.count())));
  add_default("application_name", settings.application_name);
  // Blocking reads could otherwise wait forever on a peer that vanished without a RST; these
  // bound them in the kernel too (the poll deadlines bound them in our code).
  add_default("keepalives", "1");
  add_default("keepalives_idle", "5");
  add_default("keepalives_interval", "2");
  add_default("keepalives_count", "3");
  add_default("tcp_user_timeout", "10000");
  // A backend whose client is gone (we closed the connection at a deadline) stops its statement
  // within a second instead of running on to statement_timeout holding locks (PostgreSQL >= 14).
  if (options.find("client_connection_check_interval") == std::string::npos) {
    options += (options.empty() ? "" : " ") + std::string("-c client_connection_check_interval=") +
               std::to_string(settings.client_check_interval.count());
  }
  const auto add_option = [&](std::string_view name, std::chrono::milliseconds value) {
    if (options.find(name) == std::string::npos) {
      options += (options.empty() ? "" : " ") + std::string("-c ") + std::string(name) + "=" +
                 std::to_string(value.count());
    }
  };
  add_option("statement_timeout", settings.statement_timeout);
  add_option("idle_in_transaction_session_timeout", settings.idle_in_transaction_timeout);
  if (settings.lock_timeout.count() > 0) {
    add_option("lock_timeout", settings.lock_timeout);
  }
  t.params.emplace_back("options", options);

  const auto get = [&](const char* k) -> std::string {
    for (const auto& [key, v] : t.params) {
      if (key == k) {
        return v;
      }
    }
    return "";
  };
  t.describe = "host=" + (get("host").empty() ? std::string("(default)") : get("host")) +
               " port=" + (get("port").empty() ? std::string("(default)") : get("port")) +
               " dbname=" + get("dbname") + " user=" + get("user");
  return t;
}

}  // namespace galaxy::pg
