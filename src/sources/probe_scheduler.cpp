#include "galaxy/sources/probe_scheduler.hpp"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/assert.hpp>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace galaxy::sources {

namespace asio = boost::asio;

namespace {
bool later(const auto& a, const auto& b) {
  return a.due > b.due;
}
}  // namespace

ProbeSchedule::ProbeSchedule(std::uint64_t seed) : rng_(seed) {}

ProbeSchedule::time_point ProbeSchedule::add(std::uint32_t id, time_point now, duration grace,
                                             duration interval) {
  BOOST_ASSERT(interval > duration::zero());
  std::uniform_int_distribution<duration::rep> offset(0, interval.count() - 1);
  const time_point first = now + grace + duration(offset(rng_));
  add_at(id, first, interval);
  return first;
}

void ProbeSchedule::add_at(std::uint32_t id, time_point first_due, duration interval) {
  BOOST_ASSERT(interval > duration::zero());
  if (id >= timelines_.size()) {
    timelines_.resize(std::size_t{id} + 1);
  }
  Timeline& t = timelines_[id];
  ++t.generation;
  t.active = true;
  t.next = first_due;
  t.interval = interval;
  push(Entry{first_due, id, t.generation});
}

void ProbeSchedule::remove(std::uint32_t id) {
  if (contains(id)) {
    timelines_[id].active = false;
    ++timelines_[id].generation;
  }
}

bool ProbeSchedule::contains(std::uint32_t id) const {
  return id < timelines_.size() && timelines_[id].active;
}

std::optional<ProbeSchedule::time_point> ProbeSchedule::next_due() {
  drop_stale();
  if (heap_.empty()) {
    return std::nullopt;
  }
  return heap_.front().due;
}

ProbeSchedule::time_point ProbeSchedule::batch_wake(time_point due, duration window) {
  BOOST_ASSERT(window >= duration::zero());
  if (window == duration::zero()) {
    return due;
  }
  const duration past = due.time_since_epoch() % window;
  // A steady clock's epoch is typically boot, so time points are positive and `past` is not
  // negative; a negative remainder still rounds up.
  if (past > duration::zero()) {
    return due + (window - past);
  }
  return due - past;
}

void ProbeSchedule::push(Entry e) {
  // Re-added and removed timelines leave stale entries until their due time; when they pile up
  // (churn with long grace periods) rebuild from the live timelines so the heap stays O(targets).
  if (heap_.size() >= 64 && heap_.size() > 2 * timelines_.size()) {
    heap_.clear();
    for (std::uint32_t id = 0; id < timelines_.size(); ++id) {
      const Timeline& t = timelines_[id];
      if (t.active && id != e.id) {
        heap_.push_back(Entry{t.next, id, t.generation});
      }
    }
    std::make_heap(heap_.begin(), heap_.end(), later<Entry, Entry>);
  }
  heap_.push_back(e);
  std::push_heap(heap_.begin(), heap_.end(), later<Entry, Entry>);
}

ProbeSchedule::Entry ProbeSchedule::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), later<Entry, Entry>);
  const Entry e = heap_.back();
  heap_.pop_back();
  return e;
}

void ProbeSchedule::drop_stale() {
  while (!heap_.empty()) {
    const Entry& top = heap_.front();
    const Timeline& t = timelines_[top.id];
    if (t.active && t.generation == top.generation) {
      return;
    }
    pop();
  }
}

std::int64_t ProbeSchedulerStats::lag_quantile_ms(double q) const {
  const std::uint64_t total = std::accumulate(lag_ms.begin(), lag_ms.end(), std::uint64_t{0});
  if (total == 0) {
    return 0;
  }
  const auto wanted =
      static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(total)));
  std::uint64_t seen = 0;
  for (std::size_t ms = 0; ms < lag_ms.size(); ++ms) {
    seen += lag_ms[ms];
    if (seen >= wanted && seen > 0) {
      return static_cast<std::int64_t>(ms);
    }
  }
  return static_cast<std::int64_t>(lag_ms.size() - 1);
}

class ProbeScheduler::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(const asio::any_io_executor& executor, const Clock& clock, ProbeSchedulerSettings settings,
       Report report)
      : clock_(clock),
        settings_(std::move(settings)),
        report_(std::move(report)),
        prober_(executor, clock, settings_.probe),
        schedule_(settings_.jitter_seed != 0 ? settings_.jitter_seed : seed_from_device()),
        timer_(executor) {
    if (settings_.interval <= std::chrono::milliseconds::zero()) {
      throw std::invalid_argument("probe interval must be positive");
    }
    if (settings_.batch_window < std::chrono::milliseconds::zero() ||
        settings_.batch_window > settings_.interval) {
      throw std::invalid_argument("probe batch window must be within 0..interval");
    }
    if (settings_.start_grace < std::chrono::milliseconds::zero()) {
      throw std::invalid_argument("probe start grace must not be negative");
    }
    ProbeStateMachine check(settings_.thresholds);  // throws for thresholds below 1
  }

  Result<void> add(const std::string& key, std::string_view address, std::uint16_t port,
                   std::string_view path) {
    if (stopped_) {
      return make_error("/", "probe scheduler is stopped");
    }
    auto target = prober_.make_target(address, port, path);
    if (!target) {
      return target.error();
    }
    auto shared_target = std::make_shared<const ProbeTarget>(std::move(*target));
    std::uint32_t id = 0;
    if (const auto it = ids_.find(key); it != ids_.end()) {
      id = it->second;
      Slot& slot = *slots_[id];
      retire(slot);
      slot.session = make_session(id);
      slot.target = std::move(shared_target);
      slot.machine.reset();
    } else {
      id = allocate_id();
      slots_[id] = std::make_unique<Slot>(Slot{key, std::move(shared_target), make_session(id),
                                               ProbeStateMachine(settings_.thresholds)});
      ids_.emplace(key, id);
    }
    schedule_.add(id, clock_.steady(), settings_.start_grace, settings_.interval);
    arm();
    return {};
  }

  Result<void> update(const std::string& key, std::string_view address, std::uint16_t port,
                      std::string_view path) {
    const auto it = ids_.find(key);
    if (it == ids_.end()) {
      return make_error("/key", "not probed: \"" + key + "\"");
    }
    auto target = prober_.make_target(address, port, path);
    if (!target) {
      return target.error();
    }
    Slot& slot = *slots_[it->second];
    // A new session: a probe in flight or a kept connection belongs to the old address.
    retire(slot);
    slot.session = make_session(it->second);
    slot.target = std::make_shared<const ProbeTarget>(std::move(*target));
    return {};
  }

  void remove(const std::string& key) {
    const auto it = ids_.find(key);
    if (it == ids_.end()) {
      return;
    }
    const std::uint32_t id = it->second;
    retire(*slots_[id]);
    slots_[id].reset();
    ids_.erase(it);
    schedule_.remove(id);
    free_ids_.push_back(id);
  }

  bool contains(const std::string& key) const { return ids_.contains(key); }

  void stop() {
    if (stopped_) {
      return;
    }
    stopped_ = true;
    timer_.cancel();
    for (auto& slot : slots_) {
      if (slot) {
        retire(*slot);
      }
    }
  }

  ProbeSchedulerStats stats() const {
    ProbeSchedulerStats s = stats_;
    s.targets = ids_.size();
    return s;
  }

 private:
  struct Slot {
    std::string key;
    std::shared_ptr<const ProbeTarget> target;
    std::shared_ptr<ProbeSession> session;
    ProbeStateMachine machine;
  };

  static std::uint64_t seed_from_device() {
    std::random_device device;
    return (std::uint64_t{device()} << 32) ^ device();
  }

  std::uint32_t allocate_id() {
    if (!free_ids_.empty()) {
      const std::uint32_t id = free_ids_.back();
      free_ids_.pop_back();
      return id;
    }
    slots_.emplace_back();
    return static_cast<std::uint32_t>(slots_.size() - 1);
  }

  std::shared_ptr<ProbeSession> make_session(std::uint32_t id) {
    // `this` is safe: sessions are detached before their slot or this Impl goes away.
    return prober_.make_session([this, id](const ProbeResult& r) { on_probe_done(id, r); });
  }

  static void retire(Slot& slot) {
    slot.session->detach();
    slot.session->cancel();
  }

  void on_probe_done(std::uint32_t id, const ProbeResult& result) {
    Slot& slot = *slots_[id];
    ++(result.ok() ? stats_.probes_ok : stats_.probes_failed);
    auto event = slot.machine.observe(result);
    if (event && report_) {
      // A copy: the callback may remove this very target.
      const std::string key = slot.key;
      report_(key, *event, clock_.wall_ms());
    }
  }

  void tick() {
    const auto now = clock_.steady();
    schedule_.pop_due(now, [&](const ProbeSchedule::Due& due) {
      stats_.rounds_skipped += due.skipped;
      const auto lag = std::chrono::duration_cast<std::chrono::milliseconds>(now - due.due).count();
      ++stats_.lag_ms[static_cast<std::size_t>(
          std::clamp<std::int64_t>(lag, 0, static_cast<std::int64_t>(stats_.lag_ms.size() - 1)))];
      Slot& slot = *slots_[due.id];
      if (slot.session->busy()) {
        ++stats_.rounds_missed;
        return;
      }
      ++stats_.probes_started;
      slot.session->start(slot.target);
    });
  }

  // One timer for every target, set to the earliest slot rounded up to the batch window.
  void arm() {
    if (stopped_) {
      return;
    }
    const auto next = schedule_.next_due();
    if (!next) {
      return;
    }
    const auto wake = ProbeSchedule::batch_wake(*next, settings_.batch_window);
    if (armed_for_ && *armed_for_ <= wake) {
      return;
    }
    armed_for_ = wake;
    timer_.expires_at(wake);
    const std::uint64_t generation = ++wait_generation_;
    timer_.async_wait([weak = weak_from_this(), generation](const boost::system::error_code& ec) {
      const auto self = weak.lock();
      if (!self || ec == asio::error::operation_aborted || self->stopped_ ||
          generation != self->wait_generation_) {
        return;
      }
      self->armed_for_.reset();
      self->tick();
      self->arm();
    });
  }

  const Clock& clock_;
  ProbeSchedulerSettings settings_;
  Report report_;
  Prober prober_;
  ProbeSchedule schedule_;
  std::vector<std::unique_ptr<Slot>> slots_;  // by id; unique_ptr keeps Slot& stable
  std::vector<std::uint32_t> free_ids_;
  std::unordered_map<std::string, std::uint32_t> ids_;
  asio::steady_timer timer_;
  std::optional<ProbeSchedule::time_point> armed_for_;
  std::uint64_t wait_generation_ = 0;
  bool stopped_ = false;
  ProbeSchedulerStats stats_;
};

ProbeScheduler::ProbeScheduler(const asio::any_io_executor& executor, const Clock& clock,
                               ProbeSchedulerSettings settings, Report report)
    : impl_(std::make_shared<Impl>(executor, clock, std::move(settings), std::move(report))) {}

ProbeScheduler::~ProbeScheduler() {
  impl_->stop();
}

Result<void> ProbeScheduler::add(const std::string& key, std::string_view address,
                                 std::uint16_t port, std::string_view path) {
  return impl_->add(key, address, port, path);
}

Result<void> ProbeScheduler::update(const std::string& key, std::string_view address,
                                    std::uint16_t port, std::string_view path) {
  return impl_->update(key, address, port, path);
}

void ProbeScheduler::remove(const std::string& key) {
  impl_->remove(key);
}

bool ProbeScheduler::contains(const std::string& key) const {
  return impl_->contains(key);
}

void ProbeScheduler::stop() {
  impl_->stop();
}

ProbeSchedulerStats ProbeScheduler::stats() const {
  return impl_->stats();
}

}  // namespace galaxy::sources
