#include "galaxy/sources/state_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

namespace galaxy::sources {

namespace json = boost::json;

namespace {

constexpr std::int64_t kStateVersion = 1;

json::value memory_json(const ContainerMemory& m) {
  json::object o;
  o["id"] = m.id;
  o["game_id"] = m.game_id;
  o["start_mark_ms"] = m.start_mark_ms;
  o["start_mark_from_event"] = m.start_mark_from_event;
  o["exit_mark_ms"] = m.exit_mark_ms;
  o["exit_mark_from_event"] = m.exit_mark_from_event;
  o["oom_since_start"] = m.oom_since_start;
  if (m.probe_episode_open) {
    o["probe_episode_open"] = true;
  }
  if (m.has_restart_count) {
    o["restart_count"] = m.restart_count;
  }
  if (m.unhealthy) {
    o["unhealthy"] = json::object{{"restart_count", m.unhealthy->restart_count},
                                  {"state", m.unhealthy->state},
                                  {"health", m.unhealthy->health}};
  }
  if (m.held_exit) {
    o["held_exit"] =
        json::object{{"exit_code", m.held_exit->exit_code}, {"at_ms", m.held_exit->at_ms}};
  }
  return o;
}

// Reads a field of an expected type or fails naming it; the state file is ours, but a corrupt or
// hand-edited one must give a clear error, not a crash.
template <class T>
Result<T> field(const json::object& o, std::string_view name, const std::string& where) {
  const std::string path = where + "/" + std::string(name);
  auto it = o.find(name);
  if (it == o.end()) {
    return make_error(path, "missing");
  }
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->value().is_string()) {
      return make_error(path, "must be a string");
    }
    return Result<T>(boost::system::in_place_value, std::string(it->value().get_string()));
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->value().is_bool()) {
      return make_error(path, "must be a boolean");
    }
    return it->value().get_bool();
  } else {
    if (!it->value().is_int64()) {
      return make_error(path, "must be an integer");
    }
    return it->value().get_int64();
  }
}

#define GALAXY_TRY(var, expr) \
  auto var##_r = (expr);      \
  if (!var##_r) {             \
    return var##_r.error();   \
  }                           \
  auto var = std::move(*var##_r)  // NOLINT

Result<ContainerMemory> decode_memory(const json::value& v, const std::string& where) {
  if (!v.is_object()) {
    return make_error(where, "must be an object");
  }
  const auto& o = v.get_object();
  ContainerMemory m;
  GALAXY_TRY(id, field<std::string>(o, "id", where));
  GALAXY_TRY(game, field<std::string>(o, "game_id", where));
  GALAXY_TRY(start, field<std::int64_t>(o, "start_mark_ms", where));
  GALAXY_TRY(start_ev, field<bool>(o, "start_mark_from_event", where));
  GALAXY_TRY(exit, field<std::int64_t>(o, "exit_mark_ms", where));
  GALAXY_TRY(exit_ev, field<bool>(o, "exit_mark_from_event", where));
  GALAXY_TRY(oom, field<bool>(o, "oom_since_start", where));
  m.id = id;
  m.game_id = game;
  m.start_mark_ms = start;
  m.start_mark_from_event = start_ev;
  m.exit_mark_ms = exit;
  m.exit_mark_from_event = exit_ev;
  m.oom_since_start = oom;
  if (o.contains("probe_episode_open")) {
    GALAXY_TRY(open, field<bool>(o, "probe_episode_open", where));
    m.probe_episode_open = open;
  }
  if (o.contains("restart_count")) {
    GALAXY_TRY(rc, field<std::int64_t>(o, "restart_count", where));
    m.has_restart_count = true;
    m.restart_count = rc;
  }
  if (auto* u = o.if_contains("unhealthy")) {
    if (!u->is_object()) {
      return make_error(where + "/unhealthy", "must be an object");
    }
    const std::string uw = where + "/unhealthy";
    GALAXY_TRY(rc, field<std::int64_t>(u->get_object(), "restart_count", uw));
    GALAXY_TRY(state, field<std::string>(u->get_object(), "state", uw));
    GALAXY_TRY(health, field<std::string>(u->get_object(), "health", uw));
    m.unhealthy = contract::InspectUnhealthy{rc, state, health};
  }
  if (auto* h = o.if_contains("held_exit")) {
    if (!h->is_object()) {
      return make_error(where + "/held_exit", "must be an object");
    }
    const std::string hw = where + "/held_exit";
    GALAXY_TRY(code, field<std::int64_t>(h->get_object(), "exit_code", hw));
    GALAXY_TRY(at, field<std::int64_t>(h->get_object(), "at_ms", hw));
    m.held_exit = HeldExit{code, at};
  }
  return m;
}

json::value cursor_json(const Cursor& cursor) {
  json::array keys;
  for (const auto& k : cursor.at_keys) {
    keys.emplace_back(k);
  }
  return json::object{{"time_ns", cursor.time_ns}, {"at_keys", std::move(keys)}};
}

Result<Cursor> decode_cursor(const json::value& v, const std::string& where) {
  if (!v.is_object()) {
    return make_error(where, "must be an object");
  }
  Cursor cursor;
  GALAXY_TRY(time_ns, field<std::int64_t>(v.get_object(), "time_ns", where));
  cursor.time_ns = time_ns;
  const auto* keys = v.get_object().if_contains("at_keys");
  if (keys == nullptr || !keys->is_array()) {
    return make_error(where + "/at_keys", "missing or not an array");
  }
  for (const auto& k : keys->get_array()) {
    if (!k.is_string()) {
      return make_error(where + "/at_keys", "must hold strings");
    }
    cursor.at_keys.insert(std::string(k.get_string()));
  }
  return cursor;
}

// strerror is not thread-safe; the generic category's message is.
std::string errno_text(int err) {
  return std::generic_category().message(err);
}

}  // namespace

std::string encode_cursor(const Cursor& cursor) {
  return json::serialize(cursor_json(cursor));
}

std::string encode_memory(const ContainerMemory& memory) {
  return json::serialize(memory_json(memory));
}

std::string encode_state(const ModelState& state) {
  json::array containers;
  for (const auto& m : state.containers) {
    containers.push_back(memory_json(m));
  }
  json::object root{{"version", kStateVersion},
                    {"cursor", cursor_json(state.cursor)},
                    {"containers", std::move(containers)}};
  return json::serialize(root);
}

Result<ModelState> decode_state(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) {
    return make_error("/", "not JSON: " + ec.message());
  }
  if (!v.is_object()) {
    return make_error("/", "must be an object");
  }
  const auto& o = v.get_object();
  GALAXY_TRY(version, field<std::int64_t>(o, "version", ""));
  if (version != kStateVersion) {
    return make_error("/version", "unsupported state version " + std::to_string(version));
  }
  ModelState state;
  const auto* cursor = o.if_contains("cursor");
  if (cursor == nullptr) {
    return make_error("/cursor", "missing");
  }
  GALAXY_TRY(c, decode_cursor(*cursor, "/cursor"));
  state.cursor = std::move(c);
  const auto* containers = o.if_contains("containers");
  if (containers == nullptr || !containers->is_array()) {
    return make_error("/containers", "missing or not an array");
  }
  std::size_t i = 0;
  for (const auto& c : containers->get_array()) {
    GALAXY_TRY(m, decode_memory(c, "/containers/" + std::to_string(i++)));
    state.containers.push_back(std::move(m));
  }
  return state;
}

Result<ModelState> state_from_records(const std::vector<contract::StateRecord>& records) {
  ModelState state;
  for (const auto& r : records) {
    if (!r.value) {
      continue;
    }
    boost::system::error_code ec;
    json::value v = json::parse(json::string_view(r.value->data(), r.value->size()), ec);
    if (ec) {
      return make_error(r.key, "not JSON: " + ec.message());
    }
    if (r.key == kCursorKey) {
      GALAXY_TRY(c, decode_cursor(v, r.key));
      state.cursor = std::move(c);
    } else if (r.key.rfind(kContainerKeyPrefix, 0) == 0) {
      GALAXY_TRY(m, decode_memory(v, r.key));
      state.containers.push_back(std::move(m));
    } else {
      return make_error(r.key, "unknown state record");
    }
  }
  std::sort(state.containers.begin(), state.containers.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return state;
}

#undef GALAXY_TRY

Result<std::optional<ModelState>> FileStateStore::load() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) {
      return std::optional<ModelState>{};
    }
    return make_error(path_.string(), std::string("cannot read: ") + errno_text(errno));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto state = decode_state(buf.str());
  if (!state) {
    return make_error(path_.string() + state.error().path, state.error().reason);
  }
  return std::optional<ModelState>{std::move(*state)};
}

Result<void> FileStateStore::save(const ModelState& state) {
  const std::string text = encode_state(state);
  const std::filesystem::path tmp = path_.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(tmp.string(), std::string("cannot create: ") + errno_text(errno));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return make_error(tmp.string(), std::string("cannot write: ") + errno_text(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return make_error(tmp.string(), std::string("cannot sync: ") + errno_text(errno));
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    return make_error(path_.string(), std::string("cannot replace: ") + errno_text(errno));
  }
  return {};
}

}  // namespace galaxy::sources
