#include "galaxy/lifecycle/engines.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "galaxy/common/offload.hpp"

namespace galaxy::lifecycle {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr const char* kHostLabel = "galaxy.host_id";
constexpr const char* kIncarnationLabel = "galaxy.incarnation";

ApiResponse error_response(unsigned status, std::string code, std::string message,
                           std::string field = "") {
  return {status,
          error_json(ApiError{status, std::move(code), std::move(message), std::move(field)})};
}

// The record as the API shows it, with what Docker says about its container now.
json::object record_json(const std::string& host, const Record& r,
                         const std::optional<docker::ContainerInspect>& live, bool missing) {
  json::object o;
  o["game_id"] = r.game_id;
  o["host_id"] = host;
  o["incarnation"] = r.incarnation;
  o["container_id"] = r.container_id;
  json::error_code ec;
  o["spec"] = json::parse(r.spec, ec);
  o["desired"] = std::string(to_string(r.desired));
  o["state"] = std::string(to_string(r.state));
  if (r.action == Action::none) {
    o["action"] = nullptr;
  } else {
    o["action"] = std::string(to_string(r.action));
  }
  o["action_by"] = r.action_by;
  o["error"] = r.error;
  o["created_at"] = r.created_at;
  o["updated_at"] = r.updated_at;
  if (live) {
    json::object d;
    d["status"] = live->status;
    d["running"] = live->running;
    d["exit_code"] = live->exit_code;
    d["oom_killed"] = live->oom_killed;
    d["started_at_ms"] = live->started_at_ms ? json::value(*live->started_at_ms) : nullptr;
    d["finished_at_ms"] = live->finished_at_ms ? json::value(*live->finished_at_ms) : nullptr;
    o["docker"] = std::move(d);
  } else {
    o["docker"] = nullptr;
  }
  // Docker has no container for a record that should have one: removed behind our back.
  o["container_missing"] = missing;
  return o;
}

bool is_status(const Error& e, std::string_view code) {
  return e.kind == ErrorKind::server && e.code == code;
}

// Keeps a game marked busy for the length of one action.
class Busy {
 public:
  Busy(std::set<std::string>& set, std::string game) : set_(set), game_(std::move(game)) {
    set_.insert(game_);
  }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;
  ~Busy() { set_.erase(game_); }

 private:
  std::set<std::string>& set_;
  std::string game_;
};

// {"timeout_s": N}, all optional; the body may be empty.
std::variant<std::optional<std::chrono::seconds>, ApiError> parse_stop_body(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return std::optional<std::chrono::seconds>{};
  }
  json::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return ApiError{400, "malformed_json", "the body is not a JSON object", ""};
  }
  std::optional<std::chrono::seconds> timeout;
  for (const auto& [k, val] : v.get_object()) {
    if (k != "timeout_s") {
      return ApiError{422, "unknown_field", "unknown field '" + std::string(k) + "'",
                      "/" + std::string(k)};
    }
    if (!val.is_int64() || val.get_int64() < 0 || val.get_int64() > 3600) {
      return ApiError{422, "invalid_value", "timeout_s is an integer from 0 to 3600", "/timeout_s"};
    }
    timeout = std::chrono::seconds(val.get_int64());
  }
  return timeout;
}

}  // namespace

EngineManager::EngineManager(asio::any_io_executor executor, docker::DockerApi& docker,
                             std::unique_ptr<RecordStore> store, EngineManagerSettings settings)
    : executor_(std::move(executor)),
      docker_(docker),
      store_(std::move(store)),
      settings_(std::move(settings)) {}

EngineManager::~EngineManager() {
  // A store call still running uses store_: wait for it before the members go.
  store_thread_.join();
}

bool EngineManager::initiated(const std::string& container_id) const {
  return removing_.contains(container_id);
}

// The work is a named local of the awaiting coroutine, taken by reference: GCC 12 destroys a
// closure that is a temporary of a co_await full-expression twice (seen here as a heap
// corruption), so no closure may be one. Not a coroutine itself: the work travels to the store's
// thread in a plain posted handler, and the result back to the loop in another.
template <class F>
auto EngineManager::on_store(F& work) {
  return offload(store_thread_, executor_, work);
}

asio::awaitable<Result<Record>> EngineManager::save(Record r) {
  auto work = [this, &r] { return store_->update(r); };
  co_return std::move(*co_await on_store(work));
}

asio::awaitable<Result<void>> EngineManager::load() {
  auto work = [this] { return store_->removal_intents(); };
  auto ids = *co_await on_store(work);
  if (!ids) {
    co_return ids.error();
  }
  removing_.insert(ids->begin(), ids->end());
  co_return Result<void>{};
}

docker::ContainerCreate EngineManager::to_create(const Record& r, const EngineSpec& spec) const {
  docker::ContainerCreate c;
  c.image = spec.image;
  c.cmd = spec.cmd;
  for (const auto& [k, v] : spec.env) {
    c.env.push_back(k);
    c.env.back().append("=").append(v);
  }
  c.labels = spec.labels;
  // Ours last: they are what the watcher and reconcile() find the container by.
  c.labels[settings_.labels.game_id] = r.game_id;
  c.labels[kHostLabel] = settings_.host_id;
  c.labels[kIncarnationLabel] = std::to_string(r.incarnation);
  if (spec.healthz) {
    c.labels[settings_.labels.port] = std::to_string(spec.healthz->port);
    c.labels[settings_.labels.path] = spec.healthz->path;
  }
  c.memory_bytes = spec.memory_bytes.value_or(0);
  c.nano_cpus = spec.cpus ? static_cast<std::int64_t>(std::llround(*spec.cpus * 1e9)) : 0;
  c.network = spec.network.value_or("");
  return c;
}

asio::awaitable<ApiResponse> EngineManager::respond(unsigned status, const Record& r) {
  std::optional<docker::ContainerInspect> live;
  bool missing = false;
  if (!r.container_id.empty() && r.state != State::removed) {
    auto i = co_await docker_.inspect(r.container_id);
    if (const auto* c = std::get_if<docker::ContainerInspect>(&i)) {
      live = *c;
    } else if (std::holds_alternative<docker::NotFound>(i)) {
      missing = true;
    }
  }
  co_return ApiResponse{status, json::serialize(record_json(settings_.host_id, r, live, missing))};
}

// Store errors: a fenced write means this daemon is no longer its host's active one.
namespace {
ApiResponse store_error(const Error& e) {
  if (publish::is_fenced(e)) {
    return error_response(503, "not_active",
                          "this daemon no longer holds its host's lease; ask the active one");
  }
  return error_response(503, "store_unavailable", "runtime records: " + e.message());
}
}  // namespace

ApiResponse EngineManager::fail(const std::string& what, const Record& r, const Error& e) {
  ++stats_.action_failures;
  spdlog::error("engines: {} of game {} (incarnation {}) failed: {}", what, r.game_id,
                r.incarnation, e.message());
  if (is_status(e, "404")) {
    return error_response(422, "image_not_found", "Docker: " + e.reason, "/image");
  }
  return error_response(503, "docker_unavailable", what + ": " + e.message());
}

asio::awaitable<Result<void>> EngineManager::run_container(Record& r, const EngineSpec& spec) {
  if (r.container_id.empty()) {
    auto id = co_await docker_.create_container(to_create(r, spec));
    if (!id) {
      co_return id.error();
    }
    r.container_id = *id;
    auto saved = co_await save(r);
    if (!saved) {
      co_return saved.error();
    }
    r = *saved;
  }
  if (auto s = co_await docker_.start_container(r.container_id); !s) {
    co_return s.error();
  }
  r.state = State::running;
  r.action = Action::none;
  r.error.clear();
  auto saved = co_await save(r);
  if (!saved) {
    co_return saved.error();
  }
  r = *saved;
  co_return Result<void>{};
}

asio::awaitable<Result<void>> EngineManager::remove_container(Record& r) {
  if (!r.container_id.empty()) {
    removing_.insert(r.container_id);  // before Docker: its destroy event may come at once
    auto d = co_await docker_.remove_container(r.container_id, /*force=*/true);
    if (!d && !is_status(d.error(), "404")) {
      co_return d.error();
    }
  }
  r.state = State::removed;
  r.action = Action::none;
  auto saved = co_await save(r);
  if (!saved) {
    co_return saved.error();
  }
  r = *saved;
  co_return Result<void>{};
}

asio::awaitable<Result<std::string>> EngineManager::find_container(const Record& r) {
  auto list = co_await docker_.list_containers(settings_.labels.game_id + "=" + r.game_id);
  if (!list) {
    co_return list.error();
  }
  for (const auto& c : *list) {
    const auto host = c.labels.find(kHostLabel);
    const auto inc = c.labels.find(kIncarnationLabel);
    if (host != c.labels.end() && host->second == settings_.host_id && inc != c.labels.end() &&
        inc->second == std::to_string(r.incarnation)) {
      co_return c.id;
    }
  }
  co_return std::string();
}

ApiResponse EngineManager::busy_error(const std::string& game) {
  ++stats_.conflicts;
  return error_response(409, "action_in_progress",
                        "another action on game " + game + " is in progress", "/game_id");
}

// The game's current record, or the answer when there is none to act on (404) or the store
// failed (503).
asio::awaitable<std::variant<Record, ApiResponse>> EngineManager::live_record(
    const std::string& game) {
  auto work = [this, &game] { return store_->current(game); };
  auto cur = *co_await on_store(work);
  if (!cur) {
    co_return store_error(cur.error());
  }
  if (!*cur || (*cur)->desired == Desired::removed) {
    co_return error_response(404, "not_found", "no engine for game " + game, "/game_id");
  }
  co_return std::move(**cur);
}

// The intent of an action on an existing record, committed before Docker is called: the record
// as stored, or the answer when the store refused it.
asio::awaitable<std::variant<Record, ApiResponse>> EngineManager::record_intent(
    Record r, Desired desired, Action action, const std::string& who) {
  r.desired = desired;
  r.action = action;
  r.action_by = who;
  auto saved = co_await save(r);
  if (!saved) {
    co_return store_error(saved.error());
  }
  ++stats_.actions;
  co_return std::move(*saved);
}

asio::awaitable<ApiResponse> EngineManager::create(ApiRequest req) {
  auto parsed = parse_engine_spec(req.body, settings_.image_prefixes);
  if (auto* e = std::get_if<ApiError>(&parsed)) {
    co_return ApiResponse{e->status, error_json(*e)};
  }
  const EngineSpec spec = std::get<EngineSpec>(std::move(parsed));
  if (busy_.contains(spec.game_id)) {
    co_return busy_error(spec.game_id);
  }
  Busy busy(busy_, spec.game_id);
  const std::string canonical = spec_json(spec);
  auto work = [this, &spec] { return store_->current(spec.game_id); };
  auto cur = *co_await on_store(work);
  if (!cur) {
    co_return store_error(cur.error());
  }
  if (*cur && (*cur)->desired != Desired::removed) {
    Record r = **cur;
    // Compared as specs: the stored text is PostgreSQL's jsonb rendering, not ours.
    const auto stored = spec_from_json(r.spec);
    const auto* stored_spec = std::get_if<EngineSpec>(&stored);
    if (stored_spec == nullptr || !(*stored_spec == spec)) {
      ++stats_.conflicts;
      co_return error_response(
          409, "spec_conflict",
          "game " + spec.game_id + " already has an engine with another spec; remove it first",
          "/game_id");
    }
    if (r.state == State::running && r.desired == Desired::running) {
      co_return co_await respond(200, r);  // the same request again: nothing to do
    }
    // The same spec, stopped or failed: start it again.
    r.desired = Desired::running;
    r.action = Action::create;
    r.action_by = req.who;
    auto saved = co_await save(r);
    if (!saved) {
      co_return store_error(saved.error());
    }
    r = *saved;
    ++stats_.actions;
    spdlog::info("engines: start game {} again (incarnation {}) by {}", r.game_id, r.incarnation,
                 req.who);
    if (auto ok = co_await run_container(r, spec); !ok) {
      r.state = State::failed;
      r.action = Action::none;
      r.error = ok.error().message();
      (void)co_await save(r);
      co_return fail("start", r, ok.error());
    }
    co_return co_await respond(200, r);
  }
  auto image = co_await docker_.image_exists(spec.image);
  if (!image) {
    co_return error_response(503, "docker_unavailable", "Docker: " + image.error().message());
  }
  if (!*image) {
    co_return error_response(422, "image_not_found",
                             "no image " + spec.image + " on this host's dockerd", "/image");
  }
  Record r;
  r.game_id = spec.game_id;
  r.spec = canonical;
  r.desired = Desired::running;
  r.state = State::pending;
  r.action = Action::create;
  r.action_by = req.who;
  auto begin_work = [this, &r] { return store_->begin(r); };
  auto begun = *co_await on_store(begin_work);
  if (!begun) {
    co_return store_error(begun.error());
  }
  r = *begun;
  ++stats_.actions;
  spdlog::info("engines: create game {} (incarnation {}, image {}) by {}", r.game_id, r.incarnation,
               spec.image, req.who);
  if (auto ok = co_await run_container(r, spec); !ok) {
    r.state = State::failed;
    r.action = Action::none;
    r.error = ok.error().message();
    (void)co_await save(r);
    co_return fail("create", r, ok.error());
  }
  co_return co_await respond(201, r);
}

asio::awaitable<ApiResponse> EngineManager::list(ApiRequest /*req*/) {
  auto work = [this] { return store_->list(); };
  auto records = *co_await on_store(work);
  if (!records) {
    co_return store_error(records.error());
  }
  json::array out;
  for (const auto& r : *records) {
    auto one = co_await respond(200, r);
    out.push_back(json::parse(one.body));
  }
  json::object o;
  o["engines"] = std::move(out);
  co_return ApiResponse{200, json::serialize(o)};
}

asio::awaitable<ApiResponse> EngineManager::get(ApiRequest req) {
  const std::string game = req.params["game_id"];
  auto work = [this, &game] { return store_->current(game); };
  auto cur = *co_await on_store(work);
  if (!cur) {
    co_return store_error(cur.error());
  }
  if (!*cur) {
    co_return error_response(404, "not_found", "no engine for game " + game, "/game_id");
  }
  co_return co_await respond(200, **cur);
}

asio::awaitable<ApiResponse> EngineManager::stop(ApiRequest req) {
  const std::string game = req.params["game_id"];
  auto body = parse_stop_body(req.body);
  if (auto* e = std::get_if<ApiError>(&body)) {
    co_return ApiResponse{e->status, error_json(*e)};
  }
  const auto timeout = std::get<0>(body).value_or(settings_.default_stop_timeout);
  if (busy_.contains(game)) {
    co_return busy_error(game);
  }
  Busy busy(busy_, game);
  auto found = co_await live_record(game);
  if (auto* answer = std::get_if<ApiResponse>(&found)) {
    co_return std::move(*answer);
  }
  const Record current = std::get<Record>(std::move(found));
  auto intent = co_await record_intent(current, Desired::stopped, Action::stop, req.who);
  if (auto* answer = std::get_if<ApiResponse>(&intent)) {
    co_return std::move(*answer);
  }
  Record r = std::get<Record>(std::move(intent));
  spdlog::info("engines: stop game {} (incarnation {}, timeout {}s) by {}", game, r.incarnation,
               timeout.count(), req.who);
  if (!r.container_id.empty()) {
    auto s = co_await docker_.stop_container(r.container_id, timeout);
    if (!s && !is_status(s.error(), "404")) {
      r.action = Action::none;
      r.error = s.error().message();
      (void)co_await save(r);
      co_return fail("stop", r, s.error());
    }
  }
  r.state = State::stopped;
  r.action = Action::none;
  r.error.clear();
  auto done = co_await save(r);
  if (!done) {
    co_return store_error(done.error());
  }
  co_return co_await respond(200, *done);
}

asio::awaitable<ApiResponse> EngineManager::restart(ApiRequest req) {
  const std::string game = req.params["game_id"];
  if (busy_.contains(game)) {
    co_return busy_error(game);
  }
  Busy busy(busy_, game);
  auto found = co_await live_record(game);
  if (auto* answer = std::get_if<ApiResponse>(&found)) {
    co_return std::move(*answer);
  }
  const Record current = std::get<Record>(std::move(found));
  auto parsed = spec_from_json(current.spec);
  if (auto* e = std::get_if<ApiError>(&parsed)) {
    co_return error_response(503, "bad_record", "the stored spec does not read: " + e->message);
  }
  const EngineSpec spec = std::get<EngineSpec>(std::move(parsed));
  // The old incarnation's removal is recorded first, then the new one begins: a crash anywhere
  // leaves intents reconcile() finishes.
  Record old = current;
  old.desired = Desired::removed;
  old.action = Action::remove;
  old.action_by = req.who;
  auto saved = co_await save(old);
  if (!saved) {
    co_return store_error(saved.error());
  }
  old = *saved;
  if (!old.container_id.empty()) {
    removing_.insert(old.container_id);
  }
  Record next;
  next.game_id = game;
  next.spec = old.spec;
  next.desired = Desired::running;
  next.action = Action::restart;
  next.action_by = req.who;
  auto begin_work = [this, &next] { return store_->begin(next); };
  auto begun = *co_await on_store(begin_work);
  if (!begun) {
    co_return store_error(begun.error());
  }
  next = *begun;
  ++stats_.actions;
  spdlog::info("engines: restart game {} (incarnation {} -> {}) by {}", game, old.incarnation,
               next.incarnation, req.who);
  if (auto rm = co_await remove_container(old); !rm) {
    co_return fail("restart (removing the old container)", old, rm.error());
  }
  if (auto ok = co_await run_container(next, spec); !ok) {
    next.state = State::failed;
    next.action = Action::none;
    next.error = ok.error().message();
    (void)co_await save(next);
    co_return fail("restart", next, ok.error());
  }
  co_return co_await respond(200, next);
}

asio::awaitable<ApiResponse> EngineManager::remove(ApiRequest req) {
  const std::string game = req.params["game_id"];
  if (busy_.contains(game)) {
    co_return busy_error(game);
  }
  Busy busy(busy_, game);
  auto found = co_await live_record(game);
  if (auto* answer = std::get_if<ApiResponse>(&found)) {
    co_return std::move(*answer);
  }
  const Record current = std::get<Record>(std::move(found));
  auto intent = co_await record_intent(current, Desired::removed, Action::remove, req.who);
  if (auto* answer = std::get_if<ApiResponse>(&intent)) {
    co_return std::move(*answer);
  }
  Record r = std::get<Record>(std::move(intent));
  spdlog::info("engines: remove game {} (incarnation {}, container {}) by {}", game, r.incarnation,
               r.container_id.substr(0, 12), req.who);
  if (auto rm = co_await remove_container(r); !rm) {
    co_return fail("remove", r, rm.error());
  }
  co_return co_await respond(200, r);
}

asio::awaitable<void> EngineManager::reconcile() {
  auto work = [this] { return store_->pending(); };
  auto pending = *co_await on_store(work);
  if (!pending) {
    spdlog::error("engines: cannot read the records' intents: {}", pending.error().message());
    co_return;
  }
  for (Record r : *pending) {
    Busy busy(busy_, r.game_id);
    const Action was = r.action;
    Result<void> done;
    if (was == Action::remove) {
      done = co_await remove_container(r);
    } else if (was == Action::stop) {
      if (!r.container_id.empty()) {
        auto s = co_await docker_.stop_container(r.container_id, settings_.default_stop_timeout);
        if (!s && !is_status(s.error(), "404")) {
          done = s.error();
        }
      }
      if (done) {
        r.state = State::stopped;
        r.action = Action::none;
        auto saved = co_await save(r);
        done = saved ? Result<void>{} : Result<void>{saved.error()};
      }
    } else {  // create, restart: the container may exist already (created, not yet recorded)
      auto parsed = spec_from_json(r.spec);
      if (auto* e = std::get_if<ApiError>(&parsed)) {
        done = make_error("/" + r.game_id, "the stored spec does not read: " + e->message);
      } else {
        if (r.container_id.empty()) {
          auto found = co_await find_container(r);
          if (!found) {
            done = found.error();
          } else {
            r.container_id = *found;
          }
        }
        if (done) {
          done = co_await run_container(r, std::get<EngineSpec>(parsed));
        }
      }
    }
    if (!done) {
      spdlog::error(
          "engines: finishing the {} of game {} (incarnation {}) left by a restart "
          "failed: {}",
          to_string(was), r.game_id, r.incarnation, done.error().message());
      continue;
    }
    ++stats_.reconciled;
    spdlog::info("engines: finished the {} of game {} (incarnation {}) left by a restart",
                 to_string(was), r.game_id, r.incarnation);
  }
}

}  // namespace galaxy::lifecycle
