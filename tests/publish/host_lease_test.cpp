// HostLease's rules over a fake LeaseStore: when a standby takes the lease, how often it is
// renewed, when the daemon steps down, and what a store failure does. No real time passes.

#include "galaxy/publish/host_lease.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <vector>

#include "galaxy/common/clock.hpp"

namespace galaxy::publish {
namespace {

using namespace std::chrono_literals;

// What host_leases holds for the host, as the fake store sees it.
struct FakeLeaseDb {
  std::string holder;  // "" none
  std::int64_t epoch = 0;
  bool expired = true;
  std::deque<Error> failures;  // the next calls fail with these, in order
  int joins = 0;
  int heartbeats = 0;
  int leaves = 0;
  std::string docker_id;
};

class FakeLeaseStore final : public LeaseStore {
 public:
  FakeLeaseStore(FakeLeaseDb& db, std::string me) : db_(db), me_(std::move(me)) {}
  Result<void> connect() override {
    if (auto e = fail()) {
      return *e;
    }
    connected_ = true;
    return {};
  }
  bool connected() const override { return connected_; }
  void disconnect() override { connected_ = false; }
  Result<void> join(const std::string& docker_id, std::chrono::milliseconds /*ttl*/) override {
    ++db_.joins;
    db_.docker_id = docker_id;
    return {};
  }
  Result<std::optional<Acquired>> acquire(std::chrono::milliseconds /*ttl*/) override {
    if (auto e = fail()) {
      return *e;
    }
    if (!db_.expired && !db_.holder.empty() && db_.holder != me_) {
      return std::optional<Acquired>{};
    }
    db_.holder = me_;
    db_.expired = false;
    ++db_.epoch;
    return std::optional<Acquired>{Acquired{db_.epoch, 0, 0}};
  }
  Result<bool> renew(std::int64_t epoch, const std::string& docker_id,
                     std::chrono::milliseconds /*ttl*/) override {
    if (auto e = fail()) {
      return *e;
    }
    db_.docker_id = docker_id;
    if (db_.holder != me_ || db_.epoch != epoch) {
      return false;
    }
    db_.expired = false;
    return true;
  }
  Result<void> heartbeat(const std::string& docker_id, std::chrono::milliseconds /*ttl*/) override {
    if (auto e = fail()) {
      return *e;
    }
    ++db_.heartbeats;
    db_.docker_id = docker_id;
    return {};
  }
  Result<void> leave(std::int64_t epoch) override {
    ++db_.leaves;
    if (db_.holder == me_ && db_.epoch == epoch) {
      db_.holder.clear();
      db_.expired = true;
    }
    return {};
  }

 private:
  std::optional<Error> fail() {
    if (db_.failures.empty()) {
      return std::nullopt;
    }
    auto e = db_.failures.front();
    db_.failures.pop_front();
    return e;
  }
  FakeLeaseDb& db_;
  std::string me_;
  bool connected_ = false;
};

class HostLeaseTest : public ::testing::Test {
 protected:
  std::unique_ptr<HostLease> make(const std::string& me) {
    return std::make_unique<HostLease>(
        HostLeaseSettings{.ttl = 15s, .standby_poll = 1s},
        std::make_unique<FakeLeaseStore>(db_, me), clock_,
        [this](LeaseState s, const Acquired& /*how*/) { changes_.push_back(s); });
  }
  FakeLeaseDb db_;
  ManualClock clock_;
  std::vector<LeaseState> changes_;
};

TEST_F(HostLeaseTest, AFreeLeaseIsTakenAtTheFirstStepAndRenewedEveryThirdOfItsTtl) {
  auto lease = make("d1");
  EXPECT_EQ(lease->step(), 5s) << "renewed every ttl/3";
  EXPECT_EQ(lease->state(), (LeaseState{LeaseRole::active, 1}));
  EXPECT_EQ(changes_, std::vector<LeaseState>{(LeaseState{LeaseRole::active, 1})});
  EXPECT_EQ(db_.joins, 1);
  EXPECT_EQ(lease->step(), 5s);
  EXPECT_EQ(lease->state().epoch, 1) << "a renewal keeps the epoch";
  EXPECT_EQ(changes_.size(), 1U);
}

TEST_F(HostLeaseTest, AStandbyPollsWhileAnotherHoldsTheLeaseAndTakesItWhenItLapses) {
  db_.holder = "d1";
  db_.epoch = 4;
  db_.expired = false;
  auto lease = make("d2");
  EXPECT_EQ(lease->step(), 1s) << "standby_poll";
  EXPECT_EQ(lease->state().role, LeaseRole::standby);
  EXPECT_EQ(db_.heartbeats, 1) << "a standby heartbeats: hosts shows it alive";
  EXPECT_EQ(lease->step(), 1s);
  EXPECT_TRUE(changes_.empty());
  db_.expired = true;  // d1 died
  EXPECT_EQ(lease->step(), 5s);
  EXPECT_EQ(lease->state(), (LeaseState{LeaseRole::active, 5}));
}

TEST_F(HostLeaseTest, ARefusedRenewalStepsDownToStandby) {
  auto lease = make("d1");
  lease->step();
  db_.holder = "d2";  // d1 was frozen past its lease; d2 took it
  db_.epoch = 2;
  EXPECT_EQ(lease->step(), 1s);
  EXPECT_EQ(lease->state().role, LeaseRole::standby);
  EXPECT_EQ(changes_.back(), (LeaseState{LeaseRole::standby, 0}));
  EXPECT_EQ(lease->step(), 1s) << "and waits as a standby, not taking it back";
  EXPECT_EQ(db_.holder, "d2");
}

TEST_F(HostLeaseTest, AStoreFailureKeepsTheRoleAndRetriesSooner) {
  auto lease = make("d1");
  lease->step();
  db_.failures.push_back(make_error(ErrorKind::io, "postgres", "connection reset"));
  EXPECT_EQ(lease->step(), 1s) << "retried at min(standby_poll, ttl/3)";
  EXPECT_EQ(lease->state().role, LeaseRole::active)
      << "unreachable is not refused: the fence stops its writes if another takes over";
  EXPECT_EQ(lease->step(), 5s) << "reconnected and renewed";
  EXPECT_EQ(db_.joins, 2) << "a reconnect joins again";
  EXPECT_EQ(lease->state(), (LeaseState{LeaseRole::active, 1}));
}

TEST_F(HostLeaseTest, AFencedWriteStepsDownOnlyForTheEpochHeld) {
  auto lease = make("d1");
  lease->step();
  lease->fenced(7);  // a sink of another, older lease: not this one
  EXPECT_EQ(lease->state().role, LeaseRole::active);
  lease->fenced(1);
  EXPECT_EQ(lease->state().role, LeaseRole::standby);
  EXPECT_EQ(changes_.size(), 2U);
}

TEST_F(HostLeaseTest, DockerIdGoesWithTheNextHeartbeatAndStopLeavesTheLease) {
  auto lease = make("d1");
  lease->step();
  lease->set_docker_id("ABCD:EFGH");
  lease->step();
  EXPECT_EQ(db_.docker_id, "ABCD:EFGH");
  lease->stop(/*leave=*/true);
  EXPECT_EQ(db_.leaves, 1);
  EXPECT_TRUE(db_.holder.empty()) << "a clean stop releases the lease at once";
}

}  // namespace
}  // namespace galaxy::publish
