#include "galaxy/publish/adopter.hpp"

#include <spdlog/spdlog.h>

#include "galaxy/publish/pg_outbox.hpp"

namespace galaxy::publish {

namespace {
std::string ms(std::chrono::milliseconds d) {
  return std::to_string(d.count());
}
}  // namespace

Adopter::Adopter(AdopterSettings settings, pg::Target target, std::string adopter,
                 std::string own_host)
    : settings_(std::move(settings)),
      target_(std::move(target)),
      adopter_(std::move(adopter)),
      own_host_(std::move(own_host)) {}

Adopter::~Adopter() {
  stop();
}

void Adopter::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) {
    return;
  }
  thread_ = std::thread([this] { run(); });
}

void Adopter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool Adopter::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

AdopterStats Adopter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Adopter::run() {
  for (;;) {
    if (auto r = adopt_once(); !r) {
      conn_.reset();
      std::lock_guard lock(mu_);
      ++stats_.errors;
      spdlog::warn("adopter: {}", r.error().message());
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, settings_.interval, [this] { return stopping_; })) {
      return;
    }
  }
}

Result<std::optional<std::string>> Adopter::adopt_once() {
  if (!conn_ || !conn_->ok()) {
    auto c = pg::Conn::open(target_, settings_.sink.io_timeout);
    if (!c) {
      return c.error();
    }
    conn_.emplace(std::move(*c));
  }
  // A host whose lease lapsed long ago and that still has rows; taking its lease is the one
  // statement that decides between adopters (and the host's own daemon, should it return).
  auto taken = conn_->query(
      {"UPDATE host_leases SET epoch = epoch + 1, holder = $1, "
       "lease_until = now() + $2::bigint * interval '1 millisecond' "
       "WHERE host_id = (SELECT l.host_id FROM host_leases l WHERE l.host_id <> $3 AND "
       "l.lease_until < now() - $4::bigint * interval '1 millisecond' AND "
       "EXISTS (SELECT 1 FROM health_outbox o WHERE o.host_id = l.host_id) LIMIT 1) "
       "AND lease_until < now() - $4::bigint * interval '1 millisecond' "
       "RETURNING host_id, epoch",
       {adopter_, ms(settings_.drain_deadline + settings_.sink.io_timeout * 4), own_host_,
        ms(settings_.adopt_after)}});
  if (!taken) {
    return taken.error();
  }
  if (taken->size() != 1) {
    return std::optional<std::string>{};
  }
  const std::string host(taken->text(0, 0));
  auto epoch = taken->integer(0, 1);
  if (!epoch) {
    return epoch.error();
  }
  const auto rows_of = [&]() -> Result<std::int64_t> {
    auto n = conn_->query({"SELECT count(*) FROM health_outbox WHERE host_id = $1", {host}});
    if (!n) {
      return n.error();
    }
    return n->integer(0, 0);
  };
  auto before = rows_of();
  if (!before) {
    return before.error();
  }
  spdlog::warn(
      "adopter: host {}'s lease lapsed over {} ms ago with {} outbox row(s) left; "
      "relaying them (epoch {})",
      host, settings_.adopt_after.count(), *before, *epoch);
  auto ss = settings_.sink;
  ss.fence = {host, *epoch};
  ss.relay_only = true;
  std::int64_t left = *before;
  {
    DurableSink sink(std::move(ss));
    sink.start();
    const auto until = std::chrono::steady_clock::now() + settings_.drain_deadline;
    while (left > 0 && !stopping() && !sink.stats().fenced &&
           std::chrono::steady_clock::now() < until) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
      lock.unlock();
      auto n = rows_of();
      if (!n) {
        return n.error();
      }
      left = *n;
    }
    sink.stop(std::chrono::seconds(5));
  }
  // Lapsed again at once, and as long ago as it takes to be adoptable again: the host's own
  // daemon takes it back whenever it returns, and rows still left are tried at the next search.
  auto back = conn_->query(
      {"UPDATE host_leases SET lease_until = now() - $3::bigint * interval '1 millisecond' "
       "WHERE host_id = $1 AND holder = $2",
       {host, adopter_, ms(settings_.adopt_after)}});
  if (!back) {
    return back.error();
  }
  {
    std::lock_guard lock(mu_);
    ++stats_.adoptions;
    stats_.rows_relayed += static_cast<std::uint64_t>(*before - left);
  }
  spdlog::info("adopter: relayed {} of host {}'s {} outbox row(s)", *before - left, host, *before);
  return std::optional<std::string>{host};
}

}  // namespace galaxy::publish
