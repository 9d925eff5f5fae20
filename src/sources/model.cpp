#include "galaxy/sources/model.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "galaxy/common/utf8.hpp"
#include "galaxy/sources/state_store.hpp"

namespace galaxy::sources {

namespace {

constexpr std::size_t kMaxGameIdBytes = 256;
constexpr std::size_t kMaxPathBytes = 1024;
constexpr std::size_t kMaxGoneRemembered = 4096;
constexpr std::int64_t kSigkillExitCode = 137;  // 128 + SIGKILL: an OOM kill, or any other kill

bool printable_utf8(std::string_view s) {
  // Control characters (C0, DEL) would corrupt logs and table output downstream; C1 controls
  // are encoded as 0xC2 0x80-0x9F.
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      return false;
    }
    if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xa0) {
      return false;
    }
  }
  return true;
}

std::int64_t ns_to_ms(std::int64_t ns) {
  return ns / 1'000'000;
}

std::string key_of(const ContainerEvent& e) {
  return e.id + " " + e.action;
}

}  // namespace

Result<std::optional<WatchSpec>> watch_spec(const Labels& labels, const LabelSettings& settings) {
  auto game = labels.find(settings.game_id);
  if (game == labels.end()) {
    return std::optional<WatchSpec>{};
  }
  WatchSpec spec;
  spec.port = settings.default_port;
  spec.path = settings.default_path;
  const std::string& g = game->second;
  if (g.empty() || g.size() > kMaxGameIdBytes || !is_valid_utf8(g) || !printable_utf8(g)) {
    return make_error(settings.game_id, "must be non-empty, at most 256 bytes of printable UTF-8");
  }
  spec.game_id = g;
  if (auto port = labels.find(settings.port); port != labels.end()) {
    unsigned value = 0;
    const auto& p = port->second;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (p.empty() || ec != std::errc{} || ptr != p.data() + p.size() || value == 0 ||
        value > 65535) {
      return make_error(settings.port, "must be an integer from 1 to 65535");
    }
    spec.port = static_cast<std::uint16_t>(value);
  }
  if (auto path = labels.find(settings.path); path != labels.end()) {
    const auto& p = path->second;
    const bool ok = !p.empty() && p[0] == '/' && p.size() <= kMaxPathBytes &&
                    std::all_of(p.begin(), p.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (!ok) {
      return make_error(settings.path, "must start with '/' and hold only printable ASCII");
    }
    spec.path = p;
  }
  return std::optional<WatchSpec>{std::move(spec)};
}

HealthModel::HealthModel(const Clock& clock, contract::EventSink& sink, ModelActions& actions,
                         const RemovalIntents& removals, ModelSettings settings)
    : clock_(clock),
      sink_(sink),
      actions_(actions),
      removals_(removals),
      settings_(std::move(settings)),
      baseline_ms_(clock.wall_ms()) {}

void HealthModel::restore(const ModelState& state) {
  containers_.clear();
  changed_.clear();
  cursor_changed_ = false;
  cursor_ = state.cursor;
  // With a cursor, anything after it happened while we were away and is reported; without one
  // (a first run) history before now is the baseline, not news.
  baseline_ms_ = cursor_.time_ns > 0 ? ns_to_ms(cursor_.time_ns) : clock_.wall_ms();
  for (const auto& m : state.containers) {
    Container c;
    c.memory = m;
    c.spec.game_id = m.game_id;
    if (m.held_exit) {
      c.hold_deadline = clock_.steady() + settings_.oom_window;
    }
    containers_[m.id] = std::move(c);
  }
  dirty_ = false;
}

ModelState HealthModel::save() const {
  ModelState s;
  s.cursor = cursor_;
  s.containers.reserve(containers_.size());
  for (const auto& [id, c] : containers_) {
    s.containers.push_back(c.memory);
  }
  std::sort(s.containers.begin(), s.containers.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  const_cast<HealthModel*>(this)->dirty_ = false;  // NOLINT: bookkeeping of what was saved
  return s;
}

std::vector<contract::StateRecord> HealthModel::take_state_changes() {
  std::vector<contract::StateRecord> out;
  if (cursor_changed_) {
    out.push_back({std::string(kCursorKey), encode_cursor(cursor_)});
    cursor_changed_ = false;
  }
  for (const auto& id : changed_) {
    auto it = containers_.find(id);
    out.push_back(
        {std::string(kContainerKeyPrefix) + id,
         it == containers_.end() ? std::nullopt : std::optional(encode_memory(it->second.memory))});
  }
  changed_.clear();
  return out;
}

std::vector<std::string> HealthModel::watched() const {
  std::vector<std::string> ids;
  ids.reserve(containers_.size());
  for (const auto& [id, c] : containers_) {
    ids.push_back(id);
  }
  return ids;
}

HealthModel::Container* HealthModel::track(const std::string& id, const Labels& labels) {
  if (gone_.count(id) != 0) {
    return nullptr;
  }
  auto spec = watch_spec(labels, settings_.labels);
  if (!spec) {
    if (skipped_.insert(id).second) {
      spdlog::warn("container {} skipped: label {} {}", id.substr(0, 12), spec.error().path,
                   spec.error().reason);
    }
    return nullptr;
  }
  if (!*spec) {
    return nullptr;
  }
  auto [it, inserted] = containers_.try_emplace(id);
  Container& c = it->second;
  if (inserted) {
    c.memory.id = id;
    changed(id);
  }
  if (c.memory.game_id != (*spec)->game_id) {
    c.memory.game_id = (*spec)->game_id;
    changed(id);
  }
  c.spec = std::move(**spec);
  return &c;
}

bool HealthModel::covered_by_cursor(const ContainerEvent& e) const {
  return e.time_ns < cursor_.time_ns ||
         (e.time_ns == cursor_.time_ns && cursor_.at_keys.count(key_of(e)) != 0);
}

void HealthModel::advance_cursor(const ContainerEvent& e) {
  if (e.time_ns > cursor_.time_ns) {
    cursor_.time_ns = e.time_ns;
    cursor_.at_keys.clear();
  }
  cursor_.at_keys.insert(key_of(e));
  dirty_ = true;
  cursor_changed_ = true;
}

void HealthModel::emit(const Container& c, std::int64_t at_ms, contract::Details details) {
  sink_.emit(contract::Event{c.memory.game_id, c.memory.id, at_ms, std::move(details)});
}

void HealthModel::on_event(const ContainerEvent& e) {
  if (covered_by_cursor(e)) {
    return;  // `since` is inclusive and replays what we already handled
  }
  advance_cursor(e);
  Container* c = nullptr;
  if (e.action == "destroy") {
    if (containers_.count(e.id) != 0 || track(e.id, e.attributes) != nullptr) {
      gone(e.id, ns_to_ms(e.time_ns));
    }
    return;
  }
  c = track(e.id, e.attributes);
  if (c == nullptr) {
    return;
  }
  if (e.action == "start") {
    handle_start(*c, e);
  } else if (e.action == "die") {
    handle_die(*c, e);
  } else if (e.action == "oom") {
    handle_oom(*c, e);
  } else if (e.action.rfind("health_status", 0) == 0) {
    actions_.inspect_now(e.id);
  }
}

void HealthModel::handle_start(Container& c, const ContainerEvent& e) {
  const std::int64_t t = ns_to_ms(e.time_ns);
  auto& m = c.memory;
  if (m.held_exit) {
    release_exit(c);  // the run it belongs to ends before this one starts
  }
  // The event is the start inspect already reported only if no exit came between that start and
  // this event: with one in between, this is the next run, however close in time. An exit marked
  // after this event's own time ends the run this event began (inspect ran ahead of the stream,
  // as on a takeover replaying from the cursor), so it makes the event no newer.
  const bool exited_since =
      m.exit_mark_ms != 0 && m.exit_mark_ms >= m.start_mark_ms && m.exit_mark_ms <= t;
  const bool same_as_reconciled = m.start_mark_ms != 0 && !m.start_mark_from_event &&
                                  !exited_since && t >= m.start_mark_ms &&
                                  t - m.start_mark_ms < settings_.same_fact_window.count();
  c.running = true;
  if (!same_as_reconciled) {
    m.start_mark_ms = t;
    m.start_mark_from_event = true;
    m.oom_since_start = false;
    m.probe_episode_open = false;
    c.pending_oom.reset();
    changed(m.id);
    auto image = e.attributes.find("image");
    emit(c, t, contract::ContainerStarted{image == e.attributes.end() ? "" : image->second});
  }
  // The probe needs the container's address, which only inspect has.
  c.probing = false;
  c.started_at_ms = 0;
  actions_.inspect_now(c.memory.id);
}

void HealthModel::handle_die(Container& c, const ContainerEvent& e) {
  const std::int64_t t = ns_to_ms(e.time_ns);
  auto& m = c.memory;
  std::int64_t code = 0;
  if (auto it = e.attributes.find("exitCode"); it != e.attributes.end()) {
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), code);
  }
  if (m.held_exit) {
    release_exit(c);
  }
  c.running = false;
  m.probe_episode_open = false;  // an open episode on a dead container ends silently
  if (c.probing) {
    actions_.probe_stop(m.id);
    c.probing = false;
  }
  // Likewise a die is the exit inspect already reported only if no start came after it.
  const bool started_since = m.start_mark_ms > m.exit_mark_ms;
  const bool same_as_reconciled = m.exit_mark_ms != 0 && !m.exit_mark_from_event &&
                                  !started_since && t >= m.exit_mark_ms &&
                                  t - m.exit_mark_ms < settings_.same_fact_window.count();
  if (same_as_reconciled) {
    return;
  }
  if (c.pending_oom) {
    flush_oom(c, code);
  }
  m.exit_mark_ms = t;
  m.exit_mark_from_event = true;
  changed(m.id);
  if (code == kSigkillExitCode && !m.oom_since_start) {
    // dockerd can deliver an OOM kill's `oom` after its `die`. Reporting the exit now would
    // say oom:false and put container_oom after it, so it waits for that `oom` a little.
    m.held_exit = HeldExit{code, t};
    c.hold_deadline = clock_.steady() + settings_.oom_window;
    return;
  }
  emit(c, t, contract::ContainerExited{code, m.oom_since_start});
}

void HealthModel::handle_oom(Container& c, const ContainerEvent& e) {
  auto& m = c.memory;
  if (m.held_exit) {
    m.oom_since_start = true;
    release_exit(c);
    return;
  }
  if (!c.running && m.exit_mark_ms != 0 && m.exit_mark_ms >= m.start_mark_ms) {
    // The run's exit is already reported, and container_oom may not follow its exit.
    if (!m.oom_since_start) {
      spdlog::warn("container {} of game {}: oom arrived after its exit was reported without it",
                   m.id.substr(0, 12), m.game_id);
    }
    return;
  }
  m.oom_since_start = true;
  changed(m.id);
  if (c.pending_oom) {
    return;  // one container_oom per die; a second kill inside the window adds nothing
  }
  Container::PendingOom p;
  p.at_ms = ns_to_ms(e.time_ns);
  p.deadline = clock_.steady() + settings_.oom_window;
  c.pending_oom = p;
}

void HealthModel::flush_oom(Container& c, std::int64_t exit_code) {
  emit(c, c.pending_oom->at_ms, contract::ContainerOom{exit_code});
  c.pending_oom.reset();
}

void HealthModel::release_exit(Container& c) {
  auto& m = c.memory;
  const HeldExit held = *m.held_exit;
  m.held_exit.reset();
  changed(m.id);
  if (m.oom_since_start) {
    // The OOM caused the die, so it happened no later than the die's time; stamping it so also
    // keeps the exit, emitted after it, the game's latest snapshot.
    emit(c, held.at_ms, contract::ContainerOom{held.exit_code});
  }
  emit(c, held.at_ms, contract::ContainerExited{held.exit_code, m.oom_since_start});
  if (c.inspect_after_hold) {
    c.inspect_after_hold = false;
    actions_.inspect_now(m.id);  // its unhealthy state waited for the exit; report it promptly
  }
}

void HealthModel::on_tick() {
  const auto now = clock_.steady();
  for (auto& [id, c] : containers_) {
    if (c.memory.held_exit && now >= c.hold_deadline) {
      release_exit(c);  // no oom came: a kill, not an OOM
    }
    if (c.pending_oom && !c.pending_oom->inspect_requested && now >= c.pending_oom->deadline) {
      // No die followed: a child was killed and the container lives on, or the die is late.
      // Either way inspect knows the exit code to report.
      c.pending_oom->inspect_requested = true;
      actions_.inspect_now(id);
    }
  }
}

void HealthModel::gone(const std::string& id, std::int64_t at_ms) {
  auto it = containers_.find(id);
  if (it == containers_.end()) {
    return;
  }
  Container& c = it->second;
  if (c.memory.held_exit) {
    c.inspect_after_hold = false;  // nothing left to inspect
    release_exit(c);
  }
  if (c.probing) {
    actions_.probe_stop(id);
  }
  if (!removals_.initiated(id)) {
    emit(c, at_ms, contract::ContainerDisappeared{});
  }
  containers_.erase(it);
  gone_.insert(id);
  gone_order_.push_back(id);
  changed_.insert(id);
  if (gone_order_.size() > kMaxGoneRemembered) {
    gone_.erase(gone_order_.front());
    gone_order_.pop_front();
  }
  dirty_ = true;
}

void HealthModel::on_inspect_not_found(const std::string& id) {
  gone(id, clock_.wall_ms());
}

void HealthModel::on_inspect(const ContainerSnapshot& s) {
  Container* c = track(s.id, s.labels);
  if (c == nullptr) {
    return;
  }
  const auto& m = c->memory;
  if (s.running && m.exit_mark_from_event && m.exit_mark_ms >= m.start_mark_ms &&
      s.started_at_ms != 0 && s.started_at_ms <= m.start_mark_ms) {
    // dockerd logs `die` a moment before it updates the state, so an inspect answered in between
    // still says "running" for the run that already ended. Believing it would probe a dead
    // container (a false probe_failed); the next inspect sees the real state.
    return;
  }
  if (c->memory.held_exit) {
    auto& m = c->memory;
    // A later run's state says nothing about the held exit's OOM; an exited state of the same
    // run does only when it says OOMKilled: dockerd records that when it handles the oom, which
    // may come after the die.
    const bool later_run = s.running || (m.start_mark_ms != 0 && s.started_at_ms > m.start_mark_ms);
    if (!later_run && !s.oom_killed) {
      // Its inspect_unhealthy, too, must follow the exit: set the whole inspect aside.
      c->inspect_after_hold = true;
      return;
    }
    c->inspect_after_hold = false;  // this inspect goes on after the release
    if (!later_run) {
      m.oom_since_start = true;
    }
    release_exit(*c);
  }
  if (s.oom_killed && !s.running) {
    c->memory.oom_since_start = true;
  }
  if (c->pending_oom && c->pending_oom->inspect_requested) {
    flush_oom(*c, s.running ? 0 : s.exit_code);
  }
  reconcile_start(*c, s);
  reconcile_exit(*c, s);
  check_unhealthy(*c, s);
  maybe_probe(*c, s);
}

void HealthModel::reconcile_start(Container& c, const ContainerSnapshot& s) {
  auto& m = c.memory;
  if (s.started_at_ms == 0) {
    return;
  }
  // Docker logs `start` after it sets StartedAt, so an event-marked start covers every StartedAt
  // up to its own time; a later StartedAt is a start the stream never showed us.
  const bool known = m.start_mark_ms != 0 && s.started_at_ms <= m.start_mark_ms;
  const bool news = m.start_mark_ms != 0 ? !known : s.started_at_ms > baseline_ms_;
  if (news) {
    m.start_mark_ms = s.started_at_ms;
    m.start_mark_from_event = false;
    m.oom_since_start = s.oom_killed && !s.running;
    m.probe_episode_open = false;
    changed(m.id);
    emit(c, s.started_at_ms, contract::ContainerStarted{s.image});
  } else if (m.start_mark_ms == 0) {
    m.start_mark_ms = s.started_at_ms;  // baseline: known from now on, not news
    changed(m.id);
  }
  c.running = s.running;
}

void HealthModel::reconcile_exit(Container& c, const ContainerSnapshot& s) {
  auto& m = c.memory;
  // An exit is only knowable from inspect while the container stays down: once it runs again,
  // State.ExitCode describes the new run. (FinishedAt is not compared with StartedAt: dockerd
  // stamps StartedAt late, so a container that exits at once can show FinishedAt before it.)
  if (s.running || s.finished_at_ms == 0) {
    return;
  }
  const bool known = m.exit_mark_ms != 0 && s.finished_at_ms <= m.exit_mark_ms;
  const bool news = m.exit_mark_ms != 0 ? !known : s.finished_at_ms > baseline_ms_;
  if (news) {
    m.exit_mark_ms = s.finished_at_ms;
    m.exit_mark_from_event = false;
    changed(m.id);
    emit(c, s.finished_at_ms, contract::ContainerExited{s.exit_code, m.oom_since_start});
  } else if (m.exit_mark_ms == 0) {
    m.exit_mark_ms = s.finished_at_ms;
    changed(m.id);
  }
}

void HealthModel::check_unhealthy(Container& c, const ContainerSnapshot& s) {
  auto& m = c.memory;
  if (s.status == "created" && s.started_at_ms == 0) {
    // Created and not yet started (`docker run` between create and start, seen in CI): not an
    // engine in trouble; reporting it would be a false alarm on every start.
    return;
  }
  const bool grew = m.has_restart_count && s.restart_count > m.restart_count;
  if (!m.has_restart_count || m.restart_count != s.restart_count) {
    m.has_restart_count = true;
    m.restart_count = s.restart_count;
    changed(m.id);
  }
  const bool unhealthy = s.status != "running" || s.health == "unhealthy" || grew;
  if (!unhealthy) {
    if (m.unhealthy) {
      m.unhealthy.reset();
      changed(m.id);
    }
    return;
  }
  contract::InspectUnhealthy obs{s.restart_count, s.status, s.health};
  if (m.unhealthy && *m.unhealthy == obs) {
    return;
  }
  m.unhealthy = obs;
  changed(m.id);
  emit(c, clock_.wall_ms(), obs);
}

void HealthModel::maybe_probe(Container& c, const ContainerSnapshot& s) {
  if (!s.running) {
    if (c.probing) {
      actions_.probe_stop(c.memory.id);
      c.probing = false;
    }
    return;
  }
  if (c.probing && c.started_at_ms == s.started_at_ms) {
    return;
  }
  if (s.probe_ip.empty()) {
    if (!c.probing && skipped_.insert("noip " + c.memory.id).second) {
      spdlog::warn("container {} of game {} has no IP to probe", c.memory.id.substr(0, 12),
                   c.memory.game_id);
    }
    return;
  }
  c.probing = true;
  c.started_at_ms = s.started_at_ms;
  actions_.probe_start(c.memory.id, ProbeEndpoint{s.probe_ip, c.spec.port, c.spec.path});
}

void HealthModel::on_probe(const std::string& id, const contract::Details& verdict,
                           std::int64_t at_ms) {
  auto it = containers_.find(id);
  if (it == containers_.end() || !it->second.running || !it->second.probing) {
    return;  // an episode on a dead container ends silently
  }
  auto& m = it->second.memory;
  const bool failed = std::holds_alternative<contract::ProbeFailed>(verdict);
  // The prober starts a fresh run after a restart of this daemon; an episode it already reported
  // stays reported (no second probe_failed), and its recovery is still news.
  if (failed && m.probe_episode_open) {
    return;
  }
  m.probe_episode_open = failed;
  changed(m.id);
  emit(it->second, at_ms, verdict);
}

void HealthModel::on_listed(const std::vector<std::string>& ids) {
  std::set<std::string> listed(ids.begin(), ids.end());
  for (const auto& [id, c] : containers_) {
    if (listed.count(id) == 0) {
      actions_.inspect_now(id);  // gone while we were not looking, or a list race: inspect says
    }
  }
  for (const auto& id : listed) {
    actions_.inspect_now(id);
  }
}

}  // namespace galaxy::sources
