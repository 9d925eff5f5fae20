#include "galaxy/sources/watcher.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>
#include <variant>

#include "galaxy/common/random.hpp"
#include "galaxy/common/timer.hpp"

namespace galaxy::sources {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;

namespace {

ModelState load_or_throw(StateStore& store) {
  auto loaded = store.load();
  if (!loaded) {
    // A corrupt cursor must not be papered over: starting fresh would re-report or miss facts.
    throw ErrorException(loaded.error());
  }
  return loaded->value_or(ModelState{});
}

// False when cancelled. On the clock's timers, so unit tests move the paced loops (ticks, backoff,
// pings) by advancing a ManualClock.
asio::awaitable<bool> sleep_for(const Clock& clock, std::chrono::milliseconds d) {
  const auto timer = clock.make_timer(co_await asio::this_coro::executor);
  timer->expires_after(d);
  error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

}  // namespace

Watcher::Watcher(const asio::any_io_executor& executor, const Clock& clock,
                 docker::DockerApi& docker, contract::TransitionSink& sink, StateStore& store,
                 const RemovalIntents& removals, ProbeControl& probes, WatcherSettings settings)
    : executor_(executor),
      clock_(clock),
      docker_(docker),
      sink_(sink),
      store_(store),
      probes_(probes),
      settings_(std::move(settings)),
      model_(clock, collected_, *this, removals, settings_.model),
      work_ready_(executor, asio::steady_timer::time_point::max()),
      // Equal jitter: many daemons reconnecting to one restarted dockerd do not arrive in step.
      reconnect_backoff_(ExponentialBackoff::with_equal_jitter(
          settings_.reconnect_min, settings_.reconnect_max, seeded_unit_random(random_seed()))) {
  model_.restore(load_or_throw(store_));
}

void Watcher::inspect_now(const std::string& id) {
  if (pending_set_.insert(id).second) {
    pending_.push_back(id);
    work_ready_.cancel_one();
  }
}

void Watcher::probe_start(const std::string& id, const ProbeEndpoint& endpoint) {
  probes_.start(id, endpoint);
}

void Watcher::probe_stop(const std::string& id) {
  probes_.stop(id);
}

void Watcher::probe_verdict(const std::string& container_id, const contract::Details& verdict,
                            std::int64_t at_ms) {
  model_.on_probe(container_id, verdict, at_ms);
  flush();
}

void Watcher::flush() {
  contract::Transition t{std::move(collected_.events), model_.take_state_changes()};
  collected_.events.clear();
  if (!t.empty()) {
    sink_.apply(std::move(t));
  }
}

asio::awaitable<void> Watcher::run() {
  try {
    co_await (listen_loop() && periodic_loop() && inspect_workers());
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::operation_aborted) {
      save_state();
      throw;
    }
  }
  save_state();
}

asio::awaitable<void> Watcher::inspect_workers() {
  // A fixed pool bounds the inspects in flight however many containers are due at once.
  std::vector<decltype(asio::co_spawn(executor_, inspect_worker(), asio::deferred))> workers;
  for (std::size_t i = 0; i < std::max<std::size_t>(1, settings_.max_inspects_in_flight); ++i) {
    workers.push_back(asio::co_spawn(executor_, inspect_worker(), asio::deferred));
  }
  co_await asio::experimental::make_parallel_group(std::move(workers))
      .async_wait(asio::experimental::wait_for_all(), asio::deferred);
}

void Watcher::save_state() {
  if (!store_.wants_snapshots() || !model_.dirty()) {
    return;
  }
  if (auto r = store_.save(model_.save()); !r) {
    spdlog::error("cannot save watcher state: {}", r.error().message());
  }
}

asio::awaitable<void> Watcher::listen_loop() {
  for (;;) {
    if (reload_requested_) {
      auto loaded = store_.load();
      if (loaded) {
        model_.restore(loaded->value_or(ModelState{}));
        reload_requested_ = false;
        ++stats_.reloads;
        spdlog::warn("memory reloaded from the state store; resyncing from Docker");
      } else {
        spdlog::error("cannot reload state ({}); retrying", loaded.error().message());
      }
    }
    bool got_any = false;
    // A named std::function: GCC 12 destroys a temporary made in a co_await'ed call twice.
    const docker::EventHandler on_event = [this, &got_any](Result<docker::DockerEvent> r) {
      got_any = true;
      if (!r) {
        ++stats_.bad_lines;
        spdlog::warn("docker events: unusable line: {}", r.error().message());
        return;
      }
      ++stats_.events;
      const std::int64_t ns = r->time_nano != 0 ? r->time_nano : r->time * 1'000'000'000;
      // With the log's microsecond stamps this is the moment an event reached us, beside the
      // moment dockerd stamped it: where a delay comes from (bench/run latency reads it).
      spdlog::trace("docker event {} {} time_nano {}", r->action, r->actor_id, ns);
      model_.on_event(ContainerEvent{r->actor_id, r->action, ns, std::move(r->attributes)});
      flush();
    };
    docker::EventsQuery q;
    q.labels = {settings_.model.labels.game_id};
    // Resume after what we handled, the backlog first; on a first run, from now, so that events
    // between this subscription and the list below are replayed rather than lost.
    if (model_.cursor().time_ns > 0) {
      q.since_nano = co_await catch_up(on_event);
    } else {
      q.since_nano = clock_.wall_ms() * std::int64_t{1'000'000};
    }
    if (auto cs = co_await asio::this_coro::cancellation_state;
        cs.cancelled() != asio::cancellation_type::none) {
      co_return;
    }
    // The stream call runs alongside a resync and a watchdog; the first to end (the stream
    // breaking, or the watchdog finding the daemon dead) ends the round.
    auto result = co_await (docker_.stream_events(q, on_event) || resync_then_watch());
    const Error ended = std::visit([](Error& e) { return std::move(e); }, result);
    docker_up_ = false;
    // A cancelled call ends the loop only when this coroutine is the one cancelled.
    if (docker::is_cancelled(ended)) {
      auto cs = co_await asio::this_coro::cancellation_state;
      if (cs.cancelled() != asio::cancellation_type::none) {
        co_return;
      }
    }
    // A stream that delivered something counts as a successful connection.
    if (got_any) {
      reconnect_backoff_.reset();
    }
    ++stats_.reconnects;
    const auto wait = reconnect_backoff_.next();
    spdlog::warn("docker events stream ended ({}); reconnecting in {} ms", ended.message(),
                 wait.count());
    if (!co_await sleep_for(clock_, wait)) {
      co_return;
    }
  }
}

asio::awaitable<std::int64_t> Watcher::catch_up(const docker::EventHandler& on_event) {
  // Alone, before the resync: its inspects would otherwise see states whose events the replay has
  // not delivered yet (a container that started and exited while nobody watched, inspected before
  // its `start` arrived), and the order of a takeover's facts would depend on a race.
  docker::EventsQuery q;
  q.labels = {settings_.model.labels.game_id};
  q.since_nano = model_.cursor().time_ns;
  // Not before the cursor, which is on dockerd's clock: Docker refuses an until before since.
  const std::int64_t until =
      std::max(clock_.wall_ms() * std::int64_t{1'000'000}, model_.cursor().time_ns);
  q.until_nano = until;
  const auto started = clock_.steady();
  const auto before = stats_.events;
  auto ended = co_await (docker_.stream_events(q, on_event) ||
                         sleep_for(clock_, settings_.catch_up_timeout));
  const auto* e = std::get_if<Error>(&ended);
  if (e != nullptr && docker::is_complete(*e)) {
    ++stats_.catch_ups;
    spdlog::debug(
        "replayed {} docker events since the cursor in {} ms", stats_.events - before,
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady() - started).count());
    co_return std::max(until, model_.cursor().time_ns);
  }
  if (e == nullptr) {
    spdlog::warn(
        "docker events replay not complete after {} ms (is dockerd's clock behind?); "
        "resuming the live stream from the cursor",
        settings_.catch_up_timeout.count());
  } else if (!docker::is_cancelled(*e)) {
    spdlog::warn("docker events replay failed: {}", e->message());
  }
  co_return model_.cursor().time_ns;
}

asio::awaitable<Error> Watcher::resync_then_watch() {
  co_await resync();
  co_return co_await watchdog();
}

asio::awaitable<Error> Watcher::watchdog() {
  for (;;) {
    if (!co_await sleep_for(clock_, settings_.ping_interval)) {
      co_return docker::cancelled_error("watchdog");
    }
    if (auto alive = co_await docker_.ping(); !alive) {
      co_return alive.error();
    }
    docker_up_ = true;
    if (reload_requested_) {
      // Ends the round, so the next one reloads the memory and resyncs.
      co_return make_error(ErrorKind::closed, "watcher", "stream closed to reload the memory");
    }
  }
}

asio::awaitable<void> Watcher::resync() {
  resync_started_ = clock_.steady();
  auto listed = co_await docker_.list_containers(settings_.model.labels.game_id);
  if (!listed) {
    spdlog::warn("docker list containers failed: {}; inspecting what we track",
                 listed.error().message());
    model_.on_listed(model_.watched());
    co_return;
  }
  docker_up_ = true;
  std::vector<std::string> ids;
  ids.reserve(listed->size());
  for (const auto& c : *listed) {
    ids.push_back(c.id);
  }
  model_.on_listed(ids);
  flush();
  // Nothing to inspect (no engine on this host yet): the resync is complete now.
  note_resync_if_done();
}

asio::awaitable<void> Watcher::periodic_loop() {
  // One timer paces the OOM windows, the state saves and the inspect rounds.
  const auto tick = std::min(settings_.model.oom_window / 4, std::chrono::milliseconds(250));
  auto next_inspect = clock_.steady() + settings_.inspect_interval;
  auto next_save = clock_.steady() + settings_.save_interval;
  while (co_await sleep_for(clock_, std::max(tick, std::chrono::milliseconds(1)))) {
    model_.on_tick();
    flush();
    const auto now = clock_.steady();
    if (now >= next_inspect) {
      next_inspect = now + settings_.inspect_interval;
      for (const auto& id : model_.watched()) {
        inspect_now(id);
      }
    }
    if (now >= next_save) {
      next_save = now + settings_.save_interval;
      save_state();
    }
  }
}

asio::awaitable<void> Watcher::inspect_worker() {
  for (;;) {
    while (pending_.empty()) {
      error_code ec;
      co_await work_ready_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      auto cs = co_await asio::this_coro::cancellation_state;
      if (cs.cancelled() != asio::cancellation_type::none) {
        co_return;
      }
    }
    std::string id = std::move(pending_.front());
    pending_.pop_front();
    pending_set_.erase(id);
    ++in_flight_;
    co_await inspect_one(id);
    --in_flight_;
    note_resync_if_done();
  }
}

void Watcher::note_resync_if_done() {
  if (resync_started_ && pending_.empty() && in_flight_ == 0) {
    // Operators, scripts/run and the reconcile benchmark read from this line that the daemon is
    // watching and how long a full resync took.
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady() - *resync_started_);
    spdlog::info("resync complete: {} containers watched, {} ms", model_.watched().size(),
                 took.count());
    resync_started_.reset();
    synced_ = true;
    ++stats_.resyncs;
  }
}

asio::awaitable<void> Watcher::inspect_one(const std::string& id) {
  ++stats_.inspects;
  auto outcome = co_await docker_.inspect(id);
  if (auto* found = std::get_if<docker::ContainerInspect>(&outcome)) {
    model_.on_inspect(to_snapshot(*found));
    flush();
  } else if (std::holds_alternative<docker::NotFound>(outcome)) {
    model_.on_inspect_not_found(id);
    flush();
  } else {
    ++stats_.inspect_errors;
    spdlog::warn("inspect {} failed: {}", id.substr(0, 12), std::get<Error>(outcome).message());
  }
}

ContainerSnapshot Watcher::to_snapshot(const docker::ContainerInspect& in) const {
  ContainerSnapshot s;
  s.id = in.id;
  s.labels = in.labels;
  s.image = in.image;
  s.status = in.status;
  s.running = in.running;
  s.exit_code = in.exit_code;
  s.oom_killed = in.oom_killed;
  s.started_at_ms = in.started_at_ms.value_or(0);
  s.finished_at_ms = in.finished_at_ms.value_or(0);
  s.health = in.health;
  s.restart_count = in.restart_count;
  if (in.network_mode == "host") {
    s.probe_ip = "127.0.0.1";
  } else if (auto it = in.networks.find(settings_.network);
             !settings_.network.empty() && it != in.networks.end() && !it->second.empty()) {
    s.probe_ip = it->second;
  } else {
    for (const auto& [name, ip] : in.networks) {
      if (!ip.empty()) {
        s.probe_ip = ip;
        break;
      }
    }
  }
  return s;
}

}  // namespace galaxy::sources
