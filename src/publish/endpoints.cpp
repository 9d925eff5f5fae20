#include "galaxy/publish/endpoints.hpp"

#include <libpq-fe.h>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <memory>
#include <set>

namespace galaxy::publish {

Result<PgTarget> parse_postgres_target(std::string_view url_or_conninfo,
                                       const PgConnectSettings& settings) {
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
  PgTarget t;
  std::set<std::string> given;
  std::string options;
  for (const auto* o = opts.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) {
      continue;
    }
    const std::string key = o->keyword;
    given.insert(key);
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
  if (options.find("statement_timeout") == std::string::npos) {
    options += (options.empty() ? "" : " ") + std::string("-c statement_timeout=") +
               std::to_string(settings.statement_timeout.count());
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

}  // namespace galaxy::publish
