// A host's lease: which of the daemons that run with one --host-id is the active one (the only
// one that watches Docker and writes), the others waiting as hot standbys (docs/fleet.md).
//
// The lease is a row in host_leases, on the database's clock (host clocks are not trusted),
// renewed every ttl/3: two renewals may fail before it can lapse (Patroni's rule loop_wait +
// 2 * retry_timeout <= ttl). Taking it raises its epoch, the fencing token every write of the
// host carries; a daemon that was frozen past its lease finds its writes refused when it wakes,
// and steps down. The first daemon to take any lease after the fleet migration adopts the memory
// that belongs to no host (an upgrade from the single-host release).
//
// HostLease's rules are step(), over the LeaseStore seam (PgLeaseStore is the real one) and the
// Clock, so they are unit-tested with a fake; a thread of its own loops on step().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "galaxy/common/result.hpp"
#include "galaxy/pg/conn.hpp"
#include "galaxy/pg/target.hpp"

namespace galaxy {
class Clock;
}

namespace galaxy::publish {

// Who a daemon is: the host it serves and itself (both kept in its state dir), recorded in
// runtime_hosts with what it runs on.
struct HostIdentity {
  std::string host_id;
  std::string daemon_id;
  std::string hostname;
  std::string version;
};

// What taking a lease did.
struct Acquired {
  std::int64_t epoch = 0;
  std::int64_t adopted_state = 0;  // host-less runtime_state records now this host's
  std::int64_t adopted_rows = 0;   // host-less outbox rows now this host's
};

// The PostgreSQL side of a lease. Not thread-safe: the lease's thread owns it.
class LeaseStore {
 public:
  LeaseStore() = default;
  LeaseStore(const LeaseStore&) = delete;
  LeaseStore& operator=(const LeaseStore&) = delete;
  virtual ~LeaseStore() = default;

  virtual Result<void> connect() = 0;
  virtual bool connected() const = 0;
  virtual void disconnect() = 0;
  // The daemon's runtime_hosts row, as a standby.
  virtual Result<void> join(const std::string& docker_id, std::chrono::milliseconds ttl) = 0;
  // Takes the host's lease if nobody holds it, it has lapsed, or this daemon held it (a restart
  // of the same state dir): nullopt when another daemon holds it.
  virtual Result<std::optional<Acquired>> acquire(std::chrono::milliseconds ttl) = 0;
  // Extends the lease held at `epoch`; false when it is no longer this daemon's.
  virtual Result<bool> renew(std::int64_t epoch, const std::string& docker_id,
                             std::chrono::milliseconds ttl) = 0;
  // A standby's heartbeat.
  virtual Result<void> heartbeat(const std::string& docker_id, std::chrono::milliseconds ttl) = 0;
  // A clean stop: the lease (if held at epoch, 0 for none) is released at once, so a standby
  // need not wait for it to lapse, and the daemon's row says it left.
  virtual Result<void> leave(std::int64_t epoch) = 0;
};

class PgLeaseStore final : public LeaseStore {
 public:
  PgLeaseStore(pg::Target target, std::chrono::milliseconds io_timeout, HostIdentity identity);
  ~PgLeaseStore() override;

  Result<void> connect() override;
  bool connected() const override;
  void disconnect() override;
  Result<void> join(const std::string& docker_id, std::chrono::milliseconds ttl) override;
  Result<std::optional<Acquired>> acquire(std::chrono::milliseconds ttl) override;
  Result<bool> renew(std::int64_t epoch, const std::string& docker_id,
                     std::chrono::milliseconds ttl) override;
  Result<void> heartbeat(const std::string& docker_id, std::chrono::milliseconds ttl) override;
  Result<void> leave(std::int64_t epoch) override;

 private:
  pg::Target target_;
  std::chrono::milliseconds io_timeout_;
  HostIdentity id_;
  std::optional<pg::Conn> conn_;
};

// Takes the host's lease once, for `ttl`, without a thread to renew it: for tools, benchmarks and
// tests that write as a host without a daemon. Fails (kind server) when another daemon holds it.
Result<Acquired> take_lease(const pg::Target& target, const HostIdentity& identity,
                            std::chrono::milliseconds ttl);

struct HostLeaseSettings {
  std::chrono::milliseconds ttl{15'000};
  // How often a standby tries to take the lease: a takeover comes at most this long after the
  // lease lapsed.
  std::chrono::milliseconds standby_poll{1'000};
};

enum class LeaseRole : std::uint8_t { standby, active };

struct LeaseState {
  LeaseRole role = LeaseRole::standby;
  std::int64_t epoch = 0;  // the epoch held while active
  bool operator==(const LeaseState&) const = default;
};

class HostLease {
 public:
  // on_change is called on the lease's thread (or in step()'s caller) whenever the role changes.
  HostLease(HostLeaseSettings settings, std::unique_ptr<LeaseStore> store, const Clock& clock,
            std::function<void(LeaseState, const Acquired&)> on_change);
  ~HostLease();
  HostLease(const HostLease&) = delete;
  HostLease& operator=(const HostLease&) = delete;

  void start();
  // Stops the thread; with `leave`, releases the lease (after the daemon has stopped writing).
  // Bounded: each store call has its deadline.
  void stop(bool leave);

  LeaseState state() const;
  // The daemon saw a write refused at `epoch` (fenced): the lease is gone whatever the last
  // renewal said. Steps down to standby if that epoch is still the one held.
  void fenced(std::int64_t epoch);
  // Docker's /info ID, recorded with the next heartbeat.
  void set_docker_id(std::string id);

  // One round: connect if needed, then renew (active) or try to take the lease (standby).
  // Returns how long to wait before the next one.
  std::chrono::milliseconds step();

 private:
  void run();
  void change(LeaseState next, const Acquired& how);

  HostLeaseSettings settings_;
  std::unique_ptr<LeaseStore> store_;
  const Clock& clock_;
  std::function<void(LeaseState, const Acquired&)> on_change_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  LeaseState state_;
  std::string docker_id_;
  bool joined_ = false;
  bool stopping_ = false;
  unsigned failures_ = 0;  // store calls failed in a row
  std::chrono::steady_clock::time_point last_renewed_{};
  std::thread thread_;
};

}  // namespace galaxy::publish
