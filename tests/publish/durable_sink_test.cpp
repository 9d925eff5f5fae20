// The durable sink's writer and relay rules against fake backends, one step at a time on the test
// thread, on a manual clock: retries and their backoff, a lost COMMIT reply, overflow and the
// resync it asks for, the stop deadline, the relay lock, replays and undecodable rows. The real
// PostgreSQL and Redis are in durable_sink_itest.cpp.
#include "galaxy/publish/durable_sink.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "galaxy/common/clock.hpp"
#include "galaxy/contract/codec.hpp"

namespace galaxy::publish {
namespace {

using namespace std::chrono_literals;
using contract::Event;
using contract::Transition;
using Next = DurableSink::Next;

// A container ID as Docker writes them: 64 hex digits.
constexpr const char* kContainer =
    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

Event started(std::int64_t at, const std::string& game = "g") {
  return Event{game, kContainer, at, contract::ContainerStarted{"img"}};
}

Transition one(std::int64_t at, const std::string& game = "g") {
  Transition t;
  t.events.push_back(started(at, game));
  t.state.push_back({"cursor", std::to_string(at)});
  return t;
}

Error failure(ErrorKind kind, const std::string& why) {
  return make_error(kind, "postgres", why);
}

// The database both fake stores share: what PostgreSQL would hold.
struct FakeDb {
  // Scripted outcomes, consumed in order; empty means success.
  std::deque<Error> connect_failures;
  std::deque<Error> commit_failures;
  // The next commit is stored but its reply is lost (the connection drops before COMMIT's answer).
  bool lose_next_commit_reply = false;
  std::deque<Error> fetch_failures;
  std::deque<Error> confirm_failures;
  // The host's current lease epoch (host_leases): a write at a lower one is refused (GXL01).
  std::int64_t lease_epoch = 1;
  // host_leases.legacy_seq: adopted pre-fleet rows whose Redis mark is not carried over yet.
  std::optional<std::int64_t> legacy_seq;

  std::map<std::string, std::uint64_t> last_batch;  // publish_writers
  std::vector<OutboxRow> outbox;
  std::int64_t last_seq = 0;
  std::map<std::string, std::string> state;
  std::map<std::string, RelayedRow> snapshots;
  std::vector<Event> committed;  // every event ever stored, in commit order
  int connects = 0;
  int disconnects = 0;
};

Error fenced_pg(std::int64_t epoch) {
  return make_error(ErrorKind::server, "postgres",
                    "host h lease epoch " + std::to_string(epoch) + " is not current",
                    std::string(kFencedPgCode));
}

class FakeOutbox final : public OutboxStore {
 public:
  FakeOutbox(FakeDb& db, HostFence fence) : db_(db), fence_(std::move(fence)) {}
  Result<void> connect() override {
    ++db_.connects;
    if (!db_.connect_failures.empty()) {
      auto e = db_.connect_failures.front();
      db_.connect_failures.pop_front();
      return e;
    }
    connected_ = true;
    return {};
  }
  bool connected() const override { return connected_; }
  void disconnect() override {
    ++db_.disconnects;
    connected_ = false;
  }
  Result<void> commit(const Batch& batch, const std::string& writer_id) override {
    EXPECT_TRUE(connected_);
    if (!db_.commit_failures.empty()) {
      auto e = db_.commit_failures.front();
      db_.commit_failures.pop_front();
      return e;
    }
    if (fence_.epoch != db_.lease_epoch) {
      return fenced_pg(fence_.epoch);
    }
    // The guard of PgOutbox::commit: a batch this writer committed already is not stored again.
    if (db_.last_batch[writer_id] >= batch.number) {
      return {};
    }
    db_.last_batch[writer_id] = batch.number;
    for (const auto& e : batch.events) {
      db_.outbox.push_back({++db_.last_seq, contract::encode_payload(e)});
      db_.committed.push_back(e);
    }
    for (const auto& [k, v] : batch.state) {
      if (v) {
        db_.state[k] = *v;
      } else {
        db_.state.erase(k);
      }
    }
    if (db_.lose_next_commit_reply) {
      db_.lose_next_commit_reply = false;
      return failure(ErrorKind::closed, "connection lost before COMMIT's reply");
    }
    return {};
  }
  Result<std::vector<contract::StateRecord>> load_state() override {
    std::vector<contract::StateRecord> out;
    for (const auto& [k, v] : db_.state) {
      out.push_back({k, v});
    }
    return out;
  }
  Result<std::string> database_id() override { return std::string("db-1"); }
  Result<std::optional<std::int64_t>> legacy_seq() override { return db_.legacy_seq; }
  Result<std::int64_t> seq_at_least(std::int64_t mark) override {
    const auto before = db_.last_seq;
    db_.last_seq = std::max(db_.last_seq, mark);
    return before;
  }
  Result<void> legacy_done() override {
    db_.legacy_seq.reset();
    return {};
  }
  Result<std::vector<OutboxRow>> fetch(std::size_t limit) override {
    if (!db_.fetch_failures.empty()) {
      auto e = db_.fetch_failures.front();
      db_.fetch_failures.pop_front();
      return e;
    }
    return std::vector<OutboxRow>(
        db_.outbox.begin(),
        db_.outbox.begin() + static_cast<std::ptrdiff_t>(std::min(limit, db_.outbox.size())));
  }
  Result<void> confirm(const std::vector<RelayedRow>& rows, std::int64_t through_seq) override {
    if (!db_.confirm_failures.empty()) {
      auto e = db_.confirm_failures.front();
      db_.confirm_failures.pop_front();
      return e;
    }
    if (fence_.epoch != db_.lease_epoch) {
      return fenced_pg(fence_.epoch);
    }
    for (const auto& r : rows) {
      db_.snapshots[r.event.game_id] = r;
    }
    std::erase_if(db_.outbox, [&](const OutboxRow& r) { return r.seq <= through_seq; });
    return {};
  }

 private:
  FakeDb& db_;
  HostFence fence_;
  bool connected_ = false;
};

// The stream with the dedupe the Lua script gives: a seq at or below the high-water mark of the
// epoch is a replay.
struct FakeRedis {
  std::deque<Error> connect_failures;
  std::deque<Error> publish_failures;
  bool lose_next_publish_reply = false;  // added, then the connection drops
  int wait_short = 0;  // this many publishes add, then too few replicas acknowledge them
  std::vector<std::pair<std::string, std::int64_t>> entries;  // id, seq
  std::int64_t hwm = 0;
  std::int64_t lease = 0;       // the highest lease epoch that wrote
  std::int64_t legacy_hwm = 0;  // the pre-fleet, database-wide mark
  std::vector<std::int64_t> confirmed_seen;
  int disconnects = 0;
};

class FakeStream final : public StreamAppender {
 public:
  FakeStream(FakeRedis& r, HostFence fence) : r_(r), fence_(std::move(fence)) {}
  Result<void> connect() override {
    if (!r_.connect_failures.empty()) {
      auto e = r_.connect_failures.front();
      r_.connect_failures.pop_front();
      return e;
    }
    connected_ = true;
    return {};
  }
  bool connected() const override { return connected_; }
  void disconnect() override {
    ++r_.disconnects;
    connected_ = false;
  }
  Result<std::vector<XaddResult>> publish(const std::string& /*database_id*/,
                                          std::int64_t confirmed,
                                          const std::vector<XaddItem>& items) override {
    EXPECT_TRUE(connected_);
    if (!r_.publish_failures.empty()) {
      auto e = r_.publish_failures.front();
      r_.publish_failures.pop_front();
      return e;
    }
    if (fence_.epoch < r_.lease) {
      return make_error(ErrorKind::server, "redis", "FENCED lease epoch is older",
                        std::string(kFencedRedisCode));
    }
    r_.lease = fence_.epoch;
    r_.confirmed_seen.push_back(confirmed);
    std::vector<XaddResult> out;
    for (const auto& item : items) {
      if (item.seq <= r_.hwm) {
        out.push_back({item.seq, "replayed", false});
        continue;
      }
      r_.hwm = item.seq;
      const std::string id = std::to_string(item.seq) + "-0";
      r_.entries.emplace_back(id, item.seq);
      out.push_back({item.seq, id, true});
    }
    if (r_.lose_next_publish_reply) {
      r_.lose_next_publish_reply = false;
      return make_error(ErrorKind::timeout, "redis", "no reply within the deadline");
    }
    if (r_.wait_short > 0) {
      --r_.wait_short;
      return make_error(ErrorKind::server, "redis", "WAIT: 0 of 1 replica(s) acknowledged",
                        std::string(kWaitShortCode));
    }
    return out;
  }
  Result<std::int64_t> high_water(const std::string& /*database_id*/) override { return r_.hwm; }
  Result<std::int64_t> adopt_legacy_hwm(const std::string& /*database_id*/) override {
    r_.hwm = std::max(r_.hwm, r_.legacy_hwm);
    return r_.hwm;
  }

 private:
  FakeRedis& r_;
  HostFence fence_;
  bool connected_ = false;
};

class DurableSinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<DurableSink> make(DurableSinkSettings s = {}) {
    s.redis_url = "redis://127.0.0.1:1";
    s.postgres_url = "postgresql://127.0.0.1:1/x";
    s.backoff_min = 100ms;
    s.backoff_max = 1'000ms;
    s.on_resync_needed = [this] { ++resyncs_; };
    s.on_fenced = [this](std::int64_t epoch) { fenced_.push_back(epoch); };
    if (s.fence.host_id.empty()) {
      s.fence = {"h", 1};
    }
    DurableBackends b;
    b.outbox = [this](const HostFence& f) { return std::make_unique<FakeOutbox>(db_, f); };
    b.stream = [this](const HostFence& f) { return std::make_unique<FakeStream>(redis_, f); };
    b.clock = &clock_;
    b.random = [] { return 1.0; };  // the top of each jitter range: delays are exact
    return std::make_unique<DurableSink>(std::move(s), std::move(b));
  }

  FakeDb db_;
  FakeRedis redis_;
  ManualClock clock_;
  int resyncs_ = 0;
  std::vector<std::int64_t> fenced_;
};

TEST_F(DurableSinkTest, WriterWithNothingQueuedWaitsForWork) {
  auto sink = make();
  EXPECT_EQ(sink->writer_step().next, Next::wait_work);
  EXPECT_EQ(db_.connects, 0) << "connects lazily, when there is something to commit";
}

TEST_F(DurableSinkTest, WriterRetriesWithGrowingBackoffAndStoresEachEventOnce) {
  auto sink = make();
  db_.connect_failures.push_back(failure(ErrorKind::io, "refused"));
  db_.commit_failures.push_back(failure(ErrorKind::timeout, "no answer"));
  sink->apply(one(1));
  sink->apply(one(2));

  auto s = sink->writer_step();
  EXPECT_EQ(s.next, Next::backoff);
  EXPECT_EQ(s.delay, 100ms);
  s = sink->writer_step();
  EXPECT_EQ(s.next, Next::backoff);
  EXPECT_EQ(s.delay, 200ms);
  EXPECT_EQ(db_.disconnects, 2) << "every failure drops the connection";
  EXPECT_FALSE(sink->stats().postgres_up);
  EXPECT_EQ(sink->writer_step().next, Next::again);
  EXPECT_TRUE(sink->stats().postgres_up);

  ASSERT_EQ(db_.committed.size(), 2U);
  EXPECT_EQ(db_.committed[0].occurred_at_ms, 1);
  EXPECT_EQ(db_.committed[1].occurred_at_ms, 2);
  EXPECT_EQ(db_.state.at("cursor"), "2");
  const auto st = sink->stats();
  EXPECT_EQ(st.writer_errors, 2U);
  EXPECT_EQ(st.events_committed, 2U);
  EXPECT_EQ(st.batches, 1U);
  EXPECT_EQ(st.queued, 0U);
  // A success resets the backoff.
  db_.commit_failures.push_back(failure(ErrorKind::timeout, "no answer"));
  sink->apply(one(3));
  s = sink->writer_step();
  EXPECT_EQ(s.next, Next::backoff);
  EXPECT_EQ(s.delay, 100ms);
}

TEST_F(DurableSinkTest, ALostCommitReplyResendsTheSameBatchWhichIsNotStoredTwice) {
  auto sink = make();
  db_.lose_next_commit_reply = true;
  sink->apply(one(1));
  EXPECT_EQ(sink->writer_step().next, Next::backoff);
  sink->apply(one(2));  // queued behind the batch in flight
  EXPECT_EQ(sink->writer_step().next, Next::again);
  EXPECT_EQ(sink->writer_step().next, Next::again);
  ASSERT_EQ(db_.committed.size(), 2U) << "event 1 once, then event 2";
  EXPECT_EQ(db_.committed[0].occurred_at_ms, 1);
  EXPECT_EQ(db_.committed[1].occurred_at_ms, 2);
  EXPECT_EQ(sink->stats().events_committed, 2U);
}

TEST_F(DurableSinkTest, OverflowDropsUntilTheQueueDrainsThenAsksForOneResync) {
  DurableSinkSettings s;
  s.queue_capacity = 2;
  auto sink = make(s);
  sink->apply(one(1));
  sink->apply(one(2));
  sink->apply(one(3));  // does not fit: the episode starts
  sink->apply(one(4));  // dropped too, although it would fit once 1 and 2 leave
  auto st = sink->stats();
  EXPECT_TRUE(st.overflowed);
  EXPECT_EQ(st.overflow_episodes, 1U);
  EXPECT_EQ(st.dropped_events, 2U);
  EXPECT_EQ(st.dropped_transitions, 2U);
  EXPECT_FALSE(sink->needs_resync());

  EXPECT_EQ(sink->writer_step().next, Next::again);
  EXPECT_TRUE(sink->needs_resync());
  EXPECT_EQ(resyncs_, 1);
  EXPECT_FALSE(sink->stats().overflowed);
  ASSERT_EQ(db_.committed.size(), 2U);

  sink->resync_done();
  sink->apply(one(5));
  EXPECT_EQ(sink->writer_step().next, Next::again);
  EXPECT_FALSE(sink->needs_resync());
  EXPECT_EQ(resyncs_, 1) << "one episode, one resync";
}

TEST_F(DurableSinkTest, InvalidEventsAreDroppedAndCounted) {
  auto sink = make();
  Transition t = one(1);
  t.events.push_back(Event{"", kContainer, 2, contract::ContainerStarted{"img"}});
  sink->apply(std::move(t));
  EXPECT_EQ(sink->writer_step().next, Next::again);
  ASSERT_EQ(db_.committed.size(), 1U);
  EXPECT_EQ(sink->stats().dropped_events, 1U);
}

TEST_F(DurableSinkTest, AStopKeepsRetryingUntilItsDeadlineThenDropsAndCounts) {
  auto sink = make();
  for (int i = 0; i < 10; ++i) {
    db_.commit_failures.push_back(failure(ErrorKind::io, "down"));
  }
  sink->apply(one(1));
  sink->apply(one(2));
  EXPECT_EQ(sink->writer_step().next, Next::backoff);
  sink->request_stop(1s);
  clock_.advance(500ms);
  EXPECT_EQ(sink->writer_step().next, Next::backoff) << "still within the stop deadline";
  clock_.advance(600ms);
  EXPECT_EQ(sink->writer_step().next, Next::done);
  EXPECT_TRUE(db_.committed.empty());
  EXPECT_EQ(sink->stats().dropped_events, 2U);
}

TEST_F(DurableSinkTest, AStopWithinItsDeadlineCommitsWhatIsQueuedThenFinishes) {
  auto sink = make();
  sink->apply(one(1));
  sink->request_stop(5s);
  EXPECT_EQ(sink->writer_step().next, Next::again);
  EXPECT_EQ(sink->writer_step().next, Next::done);
  EXPECT_EQ(db_.committed.size(), 1U);
  EXPECT_EQ(sink->stats().dropped_events, 0U);
}

TEST_F(DurableSinkTest, RelayPublishesInSeqOrderThenConfirmsThroughTheLastRow) {
  auto sink = make();
  sink->apply(one(1, "a"));
  sink->apply(one(2, "b"));
  ASSERT_EQ(sink->writer_step().next, Next::again);

  EXPECT_EQ(sink->relay_step().next, Next::again);
  ASSERT_EQ(redis_.entries.size(), 2U);
  EXPECT_EQ(redis_.entries[0].second, 1);
  EXPECT_EQ(redis_.entries[1].second, 2);
  EXPECT_TRUE(db_.outbox.empty()) << "confirmed rows leave the outbox";
  ASSERT_EQ(db_.snapshots.size(), 2U);
  EXPECT_EQ(db_.snapshots.at("a").stream_id, "1-0");
  EXPECT_EQ(sink->relay_step().next, Next::wait_work);

  sink->apply(one(3, "a"));
  ASSERT_EQ(sink->writer_step().next, Next::again);
  EXPECT_EQ(sink->relay_step().next, Next::again);
  ASSERT_EQ(redis_.confirmed_seen.size(), 2U);
  EXPECT_EQ(redis_.confirmed_seen[0], 0);
  EXPECT_EQ(redis_.confirmed_seen[1], 2) << "the dedupe window is trimmed below what PG confirmed";
  EXPECT_EQ(sink->stats().events_relayed, 3U);
}

TEST_F(DurableSinkTest, ALostPublishReplyIsResentAndCountedAsReplaysNotAddedTwice) {
  auto sink = make();
  sink->apply(one(1));
  sink->apply(one(2));
  ASSERT_EQ(sink->writer_step().next, Next::again);
  redis_.lose_next_publish_reply = true;
  auto s = sink->relay_step();
  EXPECT_EQ(s.next, Next::backoff);
  EXPECT_EQ(s.delay, 100ms);
  EXPECT_EQ(redis_.disconnects, 1);
  EXPECT_FALSE(sink->stats().redis_up);
  EXPECT_EQ(db_.outbox.size(), 2U) << "not confirmed: the rows stay in the outbox";

  EXPECT_EQ(sink->relay_step().next, Next::again);
  EXPECT_EQ(redis_.entries.size(), 2U) << "each event once in the stream";
  EXPECT_TRUE(sink->stats().redis_up);
  EXPECT_TRUE(db_.outbox.empty());
  const auto st = sink->stats();
  EXPECT_EQ(st.events_relayed, 0U) << "the resend added nothing";
  EXPECT_EQ(st.replays_skipped, 2U);
  EXPECT_EQ(st.relay_errors, 1U);
}

TEST_F(DurableSinkTest, AFencedCommitStopsTheWriterDropsWhatItHoldsAndTellsTheDaemonOnce) {
  auto sink = make();
  sink->apply(one(1));
  ASSERT_EQ(sink->writer_step().next, Next::again);
  db_.lease_epoch = 2;  // a standby took the lease
  sink->apply(one(2));
  sink->apply(one(3));
  EXPECT_EQ(sink->writer_step().next, Next::again);
  EXPECT_EQ(fenced_, std::vector<std::int64_t>{1});
  EXPECT_TRUE(sink->stats().fenced);
  EXPECT_EQ(sink->writer_step().next, Next::done) << "no retry: the refusal is final";
  EXPECT_EQ(db_.committed.size(), 1U) << "nothing written after the takeover";
  EXPECT_EQ(sink->stats().dropped_events, 2U);
  sink->apply(one(4));
  EXPECT_EQ(sink->stats().dropped_events, 3U) << "a fenced sink takes nothing more";
  EXPECT_EQ(sink->relay_step().next, Next::done);
  EXPECT_TRUE(redis_.entries.empty());
  EXPECT_EQ(fenced_.size(), 1U);
}

TEST_F(DurableSinkTest, AFencedRelayAddsNothingAndConfirmsNothing) {
  auto sink = make();
  sink->apply(one(1));
  ASSERT_EQ(sink->writer_step().next, Next::again);
  redis_.lease = 2;  // the new active daemon's relay wrote at epoch 2 already
  EXPECT_EQ(sink->relay_step().next, Next::done);
  EXPECT_TRUE(redis_.entries.empty());
  EXPECT_EQ(db_.outbox.size(), 1U) << "left for the lease holder to relay";
  EXPECT_EQ(fenced_, std::vector<std::int64_t>{1});
}

TEST_F(DurableSinkTest, AFencedConfirmLeavesTheRowsForTheLeaseHolder) {
  auto sink = make();
  sink->apply(one(1));
  ASSERT_EQ(sink->writer_step().next, Next::again);
  db_.lease_epoch = 2;
  EXPECT_EQ(sink->relay_step().next, Next::done);
  EXPECT_EQ(db_.outbox.size(), 1U);
  EXPECT_TRUE(db_.snapshots.empty());
  EXPECT_EQ(fenced_, std::vector<std::int64_t>{1});
  // The new holder's relay republishes the same seq: the stream's mark makes it a replay.
  DurableSinkSettings later;
  later.fence = {"h", 2};
  auto next = make(later);
  EXPECT_EQ(next->relay_step().next, Next::again);
  EXPECT_EQ(redis_.entries.size(), 1U) << "added once, by whichever relay came first";
  EXPECT_TRUE(db_.outbox.empty());
}

TEST_F(DurableSinkTest, AdoptedPreFleetRowsAreNotAddedAgainAboveTheOldMark) {
  // Rows 1 and 2 were in the stream before the upgrade (the old relay died before confirming).
  db_.outbox.push_back({1, contract::encode_payload(one(1).events[0])});
  db_.outbox.push_back({2, contract::encode_payload(one(2).events[0])});
  db_.outbox.push_back({3, contract::encode_payload(one(3).events[0])});
  db_.last_seq = 3;
  db_.legacy_seq = 3;
  redis_.legacy_hwm = 2;
  auto sink = make();
  EXPECT_EQ(sink->relay_step().next, Next::again);
  ASSERT_EQ(redis_.entries.size(), 1U) << "only seq 3 is new";
  EXPECT_EQ(redis_.entries[0].second, 3);
  EXPECT_FALSE(db_.legacy_seq) << "carried over once";
  EXPECT_TRUE(db_.outbox.empty());
  EXPECT_EQ(sink->stats().replays_skipped, 2U);
}

TEST_F(DurableSinkTest, AFailedConfirmRepublishesAsReplaysAndConfirmsLater) {
  auto sink = make();
  sink->apply(one(1));
  ASSERT_EQ(sink->writer_step().next, Next::again);
  db_.confirm_failures.push_back(failure(ErrorKind::closed, "gone"));
  EXPECT_EQ(sink->relay_step().next, Next::backoff);
  EXPECT_EQ(db_.outbox.size(), 1U);
  EXPECT_EQ(sink->relay_step().next, Next::again);
  EXPECT_TRUE(db_.outbox.empty());
  EXPECT_EQ(redis_.entries.size(), 1U);
  EXPECT_EQ(sink->stats().replays_skipped, 1U);
}

TEST_F(DurableSinkTest, RowsTheReplicasDidNotAcknowledgeStayAndAreResentOnTheSameConnection) {
  auto sink = make();
  sink->apply(one(1));
  sink->apply(one(2));
  ASSERT_EQ(sink->writer_step().next, Next::again);
  redis_.wait_short = 2;
  for (int i = 0; i < 2; ++i) {
    auto s = sink->relay_step();
    EXPECT_EQ(s.next, Next::backoff);
    EXPECT_EQ(db_.outbox.size(), 2U) << "not confirmed before the replicas have them";
  }
  auto st = sink->stats();
  EXPECT_EQ(st.wait_shortfalls, 2U);
  EXPECT_EQ(st.relay_errors, 2U);
  EXPECT_TRUE(st.redis_up) << "a slow replica is not a Redis outage";
  EXPECT_EQ(redis_.disconnects, 0) << "the connection is kept: WAIT covers its writes";
  EXPECT_NE(st.last_error.find("WAIT"), std::string::npos) << st.last_error;

  EXPECT_EQ(sink->relay_step().next, Next::again);
  EXPECT_TRUE(db_.outbox.empty());
  EXPECT_EQ(redis_.entries.size(), 2U) << "each event once in the stream";
  st = sink->stats();
  EXPECT_EQ(st.events_relayed, 0U) << "the first send added them, the resends were replays";
  EXPECT_EQ(st.replays_skipped, 2U);
}

// An asynchronous standby promoted: PostgreSQL lost commits (and the seqs they took) whose events
// are in the stream already. New events must not reuse those seqs, or the stream's dedupe would
// take them for replays and drop them.
TEST_F(DurableSinkTest, ADatabaseBehindTheStreamsMarkHandsOutSeqsAfterItSoNothingNewIsSkipped) {
  auto sink = make();
  for (int i = 1; i <= 3; ++i) {
    sink->apply(one(i));
  }
  ASSERT_EQ(sink->writer_step().next, Next::again);
  ASSERT_EQ(sink->relay_step().next, Next::again);
  ASSERT_EQ(redis_.entries.size(), 3U);
  // The failover: the database is back at seq 1 (the commits of seqs 2 and 3 are gone) and the
  // writer's next commit finds the primary gone, then commits on the promoted standby.
  db_.last_seq = 1;
  sink->apply(one(4));
  db_.commit_failures.push_back(failure(ErrorKind::closed, "the primary is gone"));
  EXPECT_EQ(sink->writer_step().next, Next::backoff);
  ASSERT_EQ(sink->writer_step().next, Next::again);
  for (int i = 0; i < 3 && !db_.outbox.empty(); ++i) {
    (void)sink->relay_step();
  }
  EXPECT_TRUE(db_.outbox.empty());
  ASSERT_EQ(redis_.entries.size(), 4U) << "the new event was added, not taken for a replay";
  EXPECT_EQ(redis_.entries.back().second, 4) << "its seq is past the stream's mark";
  EXPECT_EQ(sink->stats().seq_rewinds, 1U);
}

TEST_F(DurableSinkTest, AnUndecodableRowIsSkippedAndDoesNotBlockTheOthers) {
  auto sink = make();
  db_.outbox.push_back({1, "{not json"});
  db_.outbox.push_back({2, contract::encode_payload(started(7))});
  db_.last_seq = 2;
  EXPECT_EQ(sink->relay_step().next, Next::again);
  ASSERT_EQ(redis_.entries.size(), 1U);
  EXPECT_EQ(redis_.entries[0].second, 2);
  EXPECT_TRUE(db_.outbox.empty()) << "confirmed through the last row, the bad one included";
  EXPECT_EQ(sink->stats().relay_errors, 1U);
}

TEST_F(DurableSinkTest, TheRelayFinishesOnceStoppingAndTheWriterIsDone) {
  auto sink = make();
  sink->apply(one(1));
  sink->request_stop(5s);
  EXPECT_EQ(sink->relay_step().next, Next::wait_work) << "the writer may still commit";
  EXPECT_EQ(sink->writer_step().next, Next::again);
  EXPECT_EQ(sink->writer_step().next, Next::done);
  EXPECT_EQ(sink->relay_step().next, Next::again);
  EXPECT_EQ(sink->relay_step().next, Next::done);
  EXPECT_EQ(redis_.entries.size(), 1U);
}

TEST_F(DurableSinkTest, LoadStateReadsTheRecordsAndGivesUpAtItsDeadline) {
  auto sink = make();
  db_.state["cursor"] = "42";
  auto r = sink->load_state(0ms);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 1U);
  EXPECT_EQ((*r)[0].value, "42");

  db_.connect_failures.push_back(failure(ErrorKind::io, "refused"));
  auto failed = sink->load_state(0ms);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, ErrorKind::io);
}

}  // namespace
}  // namespace galaxy::publish
