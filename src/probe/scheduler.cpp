#include "galaxy/probe/scheduler.hpp"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/assert.hpp>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "galaxy/common/random.hpp"
#include "galaxy/common/timer.hpp"
#include "galaxy/probe/prober.hpp"
#include "galaxy/probe/session.hpp"

namespace galaxy::probe {

namespace asio = boost::asio;

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
        schedule_(settings_.jitter_seed != 0 ? settings_.jitter_seed : random_seed()),
        timer_(clock.make_timer(executor)) {
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
    timer_->cancel();
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
    ++stats_.outcomes[static_cast<std::size_t>(classify(result))];
    const double seconds = std::chrono::duration<double>(result.latency).count();
    const auto bucket =
        std::lower_bound(kProbeDurationBounds.begin(), kProbeDurationBounds.end(), seconds) -
        kProbeDurationBounds.begin();
    ++stats_.duration_buckets[static_cast<std::size_t>(bucket)];
    stats_.duration_sum_seconds += seconds;
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
    timer_->expires_at(wake);
    const std::uint64_t generation = ++wait_generation_;
    timer_->async_wait([weak = weak_from_this(), generation](const boost::system::error_code& ec) {
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
  std::unique_ptr<Timer> timer_;
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

}  // namespace galaxy::probe
