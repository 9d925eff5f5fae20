#include "galaxy/publish/host_lease.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "galaxy/common/clock.hpp"
#include "galaxy/publish/pg_outbox.hpp"

namespace galaxy::publish {

using pg::Query;

namespace {

std::string ms(std::chrono::milliseconds d) {
  return std::to_string(d.count());
}

Error not_connected() {
  return make_error(ErrorKind::closed, "postgres", "lease: not connected");
}

// "This daemon holds the host's lease now": the condition of every adoption statement, which run
// in the transaction that tried to take it and must do nothing when it did not.
constexpr const char* kHolds =
    "EXISTS (SELECT 1 FROM host_leases WHERE host_id = $1 AND holder = $2)";

}  // namespace

PgLeaseStore::PgLeaseStore(pg::Target target, std::chrono::milliseconds io_timeout,
                           HostIdentity identity)
    : target_(std::move(target)), io_timeout_(io_timeout), id_(std::move(identity)) {}

PgLeaseStore::~PgLeaseStore() = default;

bool PgLeaseStore::connected() const {
  return conn_ && conn_->ok();
}

void PgLeaseStore::disconnect() {
  conn_.reset();
}

Result<void> PgLeaseStore::connect() {
  conn_.reset();
  auto c = open_migrated(target_, io_timeout_);
  if (!c) {
    return c.error();
  }
  conn_.emplace(std::move(*c));
  return {};
}

Result<void> PgLeaseStore::join(const std::string& docker_id, std::chrono::milliseconds ttl) {
  if (!connected()) {
    return not_connected();
  }
  auto r = conn_->query(
      {"INSERT INTO runtime_hosts (daemon_id, host_id, hostname, docker_id, version, started_at, "
       "heartbeat_at, lease_until, status, epoch) VALUES ($1, $2, $3, $4, $5, now(), now(), "
       "now() + $6::bigint * interval '1 millisecond', 'standby', 0) "
       "ON CONFLICT (daemon_id) DO UPDATE SET host_id = EXCLUDED.host_id, "
       "hostname = EXCLUDED.hostname, docker_id = EXCLUDED.docker_id, "
       "version = EXCLUDED.version, started_at = now(), heartbeat_at = now(), "
       "lease_until = EXCLUDED.lease_until, status = 'standby'",
       {id_.daemon_id, id_.host_id, id_.hostname, docker_id, id_.version, ms(ttl)}});
  if (!r) {
    return r.error();
  }
  return {};
}

Result<std::optional<Acquired>> PgLeaseStore::acquire(std::chrono::milliseconds ttl) {
  if (!connected()) {
    return not_connected();
  }
  // Looked at without a lock first: the upsert below locks the row even when it changes nothing,
  // and a standby asking every second would make the active daemon's commits wait on it.
  auto free = conn_->query(
      {"SELECT lease_until < now() OR holder IN ('', $2) FROM host_leases WHERE host_id = $1",
       {id_.host_id, id_.daemon_id}});
  if (!free) {
    return free.error();
  }
  if (free->size() == 1 && free->text(0, 0) != "t") {
    return std::optional<Acquired>{};
  }
  const std::string holds = kHolds;
  auto r = conn_->pipeline(std::vector<Query>{
      {"BEGIN", {}},
      {"INSERT INTO host_leases (host_id, epoch, holder, lease_until) "
       "VALUES ($1, 1, $2, now() + $3::bigint * interval '1 millisecond') "
       "ON CONFLICT (host_id) DO UPDATE SET epoch = host_leases.epoch + 1, "
       "holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until "
       "WHERE host_leases.lease_until < now() OR host_leases.holder IN ('', EXCLUDED.holder) "
       "RETURNING epoch",
       {id_.host_id, id_.daemon_id, ms(ttl)}},
      // The upgrade from the single-host release: memory that belongs to no host becomes this
      // one's, if this host has none of its own yet (docs/fleet.md).
      {"WITH moved AS (UPDATE health_outbox SET host_id = $1 WHERE host_id = '' AND " + holds +
           " AND NOT EXISTS (SELECT 1 FROM health_outbox WHERE host_id = $1) RETURNING seq), "
           "m AS (SELECT count(*) AS n, max(seq) AS top FROM moved), "
           "bump AS (UPDATE host_leases SET last_seq = greatest(last_seq, m.top), "
           "legacy_seq = m.top FROM m WHERE host_leases.host_id = $1 AND m.n > 0) "
           "SELECT n FROM m",
       {id_.host_id, id_.daemon_id}},
      {"WITH s AS (UPDATE runtime_state SET host_id = $1 WHERE host_id = '' AND " + holds +
           " AND NOT EXISTS (SELECT 1 FROM runtime_state WHERE host_id = $1) RETURNING 1) "
           "SELECT count(*) FROM s",
       {id_.host_id, id_.daemon_id}},
      {"UPDATE health_snapshots SET host_id = $1 WHERE host_id = '' AND " + holds,
       {id_.host_id, id_.daemon_id}},
      // The daemon it took over from, if any, is lost (a clean stop would have released it).
      {"UPDATE runtime_hosts SET status = 'lost' WHERE host_id = $1 AND daemon_id <> $2 AND "
       "status = 'active' AND " +
           holds,
       {id_.host_id, id_.daemon_id}},
      {"UPDATE runtime_hosts SET status = 'active', heartbeat_at = now(), "
       "lease_until = now() + $3::bigint * interval '1 millisecond', "
       "epoch = (SELECT epoch FROM host_leases WHERE host_id = $1) "
       "WHERE daemon_id = $2 AND " +
           holds,
       {id_.host_id, id_.daemon_id, ms(ttl)}},
      {"COMMIT", {}}});
  if (!r) {
    return r.error();
  }
  const pg::Rows& taken = (*r)[1];
  if (taken.size() != 1) {
    return std::optional<Acquired>{};
  }
  Acquired a;
  auto epoch = taken.integer(0, 0);
  auto rows = (*r)[2].integer(0, 0);
  auto state = (*r)[3].integer(0, 0);
  if (!epoch || !rows || !state) {
    return make_error(ErrorKind::protocol, "postgres", "lease: unexpected answer to the takeover");
  }
  a.epoch = *epoch;
  a.adopted_rows = *rows;
  a.adopted_state = *state;
  return std::optional<Acquired>{a};
}

Result<bool> PgLeaseStore::renew(std::int64_t epoch, const std::string& docker_id,
                                 std::chrono::milliseconds ttl) {
  if (!connected()) {
    return not_connected();
  }
  auto r = conn_->pipeline(std::vector<Query>{
      {"BEGIN", {}},
      {"UPDATE host_leases SET lease_until = now() + $4::bigint * interval '1 millisecond' "
       "WHERE host_id = $1 AND holder = $2 AND epoch = $3::bigint RETURNING epoch",
       {id_.host_id, id_.daemon_id, std::to_string(epoch), ms(ttl)}},
      {"UPDATE runtime_hosts SET heartbeat_at = now(), docker_id = $3, "
       "lease_until = now() + $4::bigint * interval '1 millisecond', status = CASE WHEN "
       "EXISTS (SELECT 1 FROM host_leases WHERE host_id = $1 AND holder = $2) "
       "THEN 'active' ELSE 'standby' END WHERE daemon_id = $2",
       {id_.host_id, id_.daemon_id, docker_id, ms(ttl)}},
      {"UPDATE runtime_hosts SET status = 'lost' WHERE status IN ('active', 'standby') AND "
       "lease_until < now()",
       {}},
      {"COMMIT", {}}});
  if (!r) {
    return r.error();
  }
  return (*r)[1].size() == 1;
}

Result<void> PgLeaseStore::heartbeat(const std::string& docker_id, std::chrono::milliseconds ttl) {
  if (!connected()) {
    return not_connected();
  }
  auto r = conn_->pipeline(std::vector<Query>{
      {"BEGIN", {}},
      {"UPDATE runtime_hosts SET heartbeat_at = now(), docker_id = $2, status = 'standby', "
       "lease_until = now() + $3::bigint * interval '1 millisecond' WHERE daemon_id = $1",
       {id_.daemon_id, docker_id, ms(ttl)}},
      {"UPDATE runtime_hosts SET status = 'lost' WHERE status IN ('active', 'standby') AND "
       "lease_until < now()",
       {}},
      {"COMMIT", {}}});
  if (!r) {
    return r.error();
  }
  return {};
}

Result<void> PgLeaseStore::leave(std::int64_t epoch) {
  if (!connected()) {
    return not_connected();
  }
  auto r = conn_->pipeline(std::vector<Query>{
      {"BEGIN", {}},
      {"UPDATE host_leases SET holder = '', lease_until = now() "
       "WHERE host_id = $1 AND holder = $2 AND epoch = $3::bigint",
       {id_.host_id, id_.daemon_id, std::to_string(epoch)}},
      {"UPDATE runtime_hosts SET status = 'left', heartbeat_at = now(), lease_until = now() "
       "WHERE daemon_id = $1",
       {id_.daemon_id}},
      {"COMMIT", {}}});
  if (!r) {
    return r.error();
  }
  return {};
}

Result<Acquired> take_lease(const pg::Target& target, const HostIdentity& identity,
                            std::chrono::milliseconds ttl) {
  PgLeaseStore store(target, std::chrono::seconds(10), identity);
  if (auto c = store.connect(); !c) {
    return c.error();
  }
  if (auto j = store.join("", ttl); !j) {
    return j.error();
  }
  auto a = store.acquire(ttl);
  if (!a) {
    return a.error();
  }
  if (!*a) {
    return make_error(ErrorKind::server, "postgres",
                      "host " + identity.host_id + "'s lease is held by another daemon");
  }
  return **a;
}

HostLease::HostLease(HostLeaseSettings settings, std::unique_ptr<LeaseStore> store,
                     const Clock& clock, std::function<void(LeaseState, const Acquired&)> on_change)
    : settings_(settings),
      store_(std::move(store)),
      clock_(clock),
      on_change_(std::move(on_change)) {}

HostLease::~HostLease() {
  stop(false);
}

void HostLease::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) {
    return;
  }
  thread_ = std::thread([this] { run(); });
}

void HostLease::run() {
  for (;;) {
    const auto wait = step();
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, wait, [this] { return stopping_; })) {
      return;
    }
  }
}

void HostLease::stop(bool leave) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) {
      return;
    }
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  if (!leave) {
    return;
  }
  const auto held = state();
  if (!store_->connected()) {
    if (auto c = store_->connect(); !c) {
      spdlog::warn("lease: cannot release the lease ({}); a standby takes over when it lapses",
                   c.error().message());
      return;
    }
  }
  if (auto r = store_->leave(held.role == LeaseRole::active ? held.epoch : 0); !r) {
    spdlog::warn("lease: cannot release the lease ({}); a standby takes over when it lapses",
                 r.error().message());
    return;
  }
  if (held.role == LeaseRole::active) {
    spdlog::info("lease: released (epoch {})", held.epoch);
  }
}

LeaseState HostLease::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

void HostLease::set_docker_id(std::string id) {
  std::lock_guard lock(mu_);
  docker_id_ = std::move(id);
}

void HostLease::change(LeaseState next, const Acquired& how) {
  {
    std::lock_guard lock(mu_);
    if (state_ == next) {
      return;
    }
    state_ = next;
  }
  if (on_change_) {
    on_change_(next, how);
  }
}

void HostLease::fenced(std::int64_t epoch) {
  const auto now = state();
  if (now.role == LeaseRole::active && now.epoch == epoch) {
    spdlog::warn(
        "lease: a write at epoch {} was refused: another daemon holds the lease; "
        "stepping down to standby",
        epoch);
    change({LeaseRole::standby, 0}, {});
  }
}

std::chrono::milliseconds HostLease::step() {
  const auto renew_every = settings_.ttl / 3;
  const auto failed = [&](const Error& e, const char* what) {
    store_->disconnect();
    ++failures_;
    if ((failures_ & (failures_ + 1)) == 0) {  // the first failure, then at powers of two
      spdlog::error("lease: {}: {} (attempt {})", what, e.message(), failures_);
    }
    return std::min(settings_.standby_poll, renew_every);
  };
  std::string docker_id;
  {
    std::lock_guard lock(mu_);
    docker_id = docker_id_;
  }
  if (!store_->connected()) {
    if (auto c = store_->connect(); !c) {
      return failed(c.error(), "connecting");
    }
    joined_ = false;
  }
  if (!joined_) {
    if (auto j = store_->join(docker_id, settings_.ttl); !j) {
      return failed(j.error(), "joining");
    }
    joined_ = true;
  }
  const LeaseState held = state();
  if (held.role == LeaseRole::active) {
    auto renewed = store_->renew(held.epoch, docker_id, settings_.ttl);
    if (!renewed) {
      // Still active as far as this daemon knows: if another took the lease meanwhile, the
      // fence refuses this one's writes, which is what makes waiting here safe.
      if (clock_.steady() - last_renewed_ > settings_.ttl) {
        spdlog::warn(
            "lease: not renewed for more than its TTL ({} ms); writes are refused if "
            "a standby has taken over",
            settings_.ttl.count());
      }
      return failed(renewed.error(), "renewing");
    }
    failures_ = 0;
    if (!*renewed) {
      spdlog::warn("lease: lost (epoch {} is no longer this daemon's); stepping down to standby",
                   held.epoch);
      change({LeaseRole::standby, 0}, {});
      return settings_.standby_poll;
    }
    last_renewed_ = clock_.steady();
    return renew_every;
  }
  if (auto h = store_->heartbeat(docker_id, settings_.ttl); !h) {
    return failed(h.error(), "heartbeat");
  }
  auto taken = store_->acquire(settings_.ttl);
  if (!taken) {
    return failed(taken.error(), "taking the lease");
  }
  failures_ = 0;
  if (!*taken) {
    return settings_.standby_poll;
  }
  last_renewed_ = clock_.steady();
  change({LeaseRole::active, (*taken)->epoch}, **taken);
  return renew_every;
}

}  // namespace galaxy::publish
