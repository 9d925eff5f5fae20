// The consumer SDK against the shared dev Redis; every test on its own stream key.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <map>
#include <set>

#include "galaxy/common/redis_url.hpp"
#include "galaxy/testsupport/process.hpp"
#include "itest_support.hpp"

namespace galaxy::consumer::itest {
namespace {

class ConsumerItest : public StreamTest {
 protected:
  std::string group_ = "workers";
};

TEST_F(ConsumerItest, TwoConsumersShareAGroupAndSeeEachEntryOnce) {
  Recorder rec;
  auto handler = [&rec](std::string name) {
    return [&rec, name](const Delivery& d) {
      rec.add(name, d.id, d.event, d.delivery_count);
      return true;
    };
  };
  RunningConsumer a(options_for(stream_, group_, "a"), handler("a"));
  RunningConsumer b(options_for(stream_, group_, "b"), handler("b"));
  std::map<std::string, contract::Event> written;
  for (int i = 0; i < 300; ++i) {
    const auto e = make_event(i);
    written.emplace(xadd_event(*redis_, stream_, e), e);
  }
  ASSERT_TRUE(eventually([&] { return rec.size() >= written.size(); }))
      << "handled " << rec.size() << " of " << written.size();
  ASSERT_TRUE(eventually([&] { return pending_count(*redis_, stream_, group_) == 0; }));
  a.stop();
  b.stop();
  std::map<std::string, int> times;
  std::set<std::string> consumers;
  for (const auto& s : rec.seen()) {
    ++times[s.id];
    consumers.insert(s.consumer);
    ASSERT_TRUE(written.contains(s.id)) << s.id;
    EXPECT_EQ(s.event, written.at(s.id)) << s.id;
    EXPECT_EQ(s.delivery, 1);
  }
  EXPECT_EQ(times.size(), written.size());
  for (const auto& [id, n] : times) {
    EXPECT_EQ(n, 1) << id << " was handled " << n << " times";
  }
  EXPECT_EQ(a.consumer().stats().acked + b.consumer().stats().acked, written.size());
}

TEST_F(ConsumerItest, AnAbandonedConsumersPendingEntriesAreReclaimed) {
  must(*redis_, {"XGROUP", "CREATE", stream_, group_, "0", "MKSTREAM"});
  std::set<std::string> ids;
  for (int i = 0; i < 120; ++i) {
    ids.insert(xadd_event(*redis_, stream_, make_event(i)));
  }
  // The "killed" consumer: it read a batch and died before acknowledging any of it.
  auto read = must(
      *redis_, {"XREADGROUP", "GROUP", group_, "doomed", "COUNT", "50", "STREAMS", stream_, ">"});
  ASSERT_EQ(redis::parse_read_reply(read.get())->size(), 50U);

  Recorder rec;
  auto o = options_for(stream_, group_, "survivor");
  o.claim_idle = 300ms;
  o.claim_interval = 100ms;
  RunningConsumer survivor(o, [&rec](const Delivery& d) {
    rec.add("survivor", d.id, d.event, d.delivery_count);
    return true;
  });
  ASSERT_TRUE(eventually([&] { return rec.size() >= ids.size(); }))
      << "handled " << rec.size() << " of " << ids.size();
  ASSERT_TRUE(eventually([&] { return pending_count(*redis_, stream_, group_) == 0; }));
  survivor.stop();
  std::set<std::string> handled;
  for (const auto& s : rec.seen()) {
    handled.insert(s.id);
  }
  EXPECT_EQ(handled, ids);
  EXPECT_EQ(survivor.consumer().stats().claimed, 50U);
}

TEST_F(ConsumerItest, PoisonEntriesAreDeadLetteredWithAReasonAndDoNotBlockTheGroup) {
  Recorder rec;
  RunningConsumer c(options_for(stream_, group_, "c"), [&rec](const Delivery& d) {
    rec.add("c", d.id, d.event, d.delivery_count);
    return true;
  });
  const auto first = xadd_event(*redis_, stream_, make_event(1));
  std::map<std::string, contract::EntryFields> poison;
  for (const auto& fields : poison_entries()) {
    poison.emplace(xadd_fields(*redis_, stream_, fields), fields);
  }
  const auto last = xadd_event(*redis_, stream_, make_event(2));
  ASSERT_TRUE(eventually([&] { return rec.size() >= 2; }));
  ASSERT_TRUE(eventually([&] { return stream_length(*redis_, stream_ + ":dead") >= 3; }));
  ASSERT_TRUE(eventually([&] { return pending_count(*redis_, stream_, group_) == 0; }));
  c.stop();
  EXPECT_EQ(rec.seen()[0].id, first);
  EXPECT_EQ(rec.seen()[1].id, last);
  EXPECT_EQ(c.consumer().stats().dead_lettered, 3U);

  auto dead = must(*redis_, {"XRANGE", stream_ + ":dead", "-", "+"});
  auto entries = redis::parse_entries(dead.get());
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 3U);
  std::set<std::string> reasons;
  for (const auto& e : *entries) {
    const auto& f = *e.fields;
    ASSERT_GE(f.size(), 3U);
    EXPECT_EQ(f[0].name, "entry_id");
    ASSERT_TRUE(poison.contains(f[0].value)) << f[0].value;
    const auto& original = poison.at(f[0].value);
    EXPECT_EQ(f[1].name, "reason");
    EXPECT_EQ(f[1].value, contract::decode_entry(original).error().message());
    reasons.insert(f[1].value);
    EXPECT_EQ(f[2].name, "consumer");
    EXPECT_EQ(f[2].value, "c");
    ASSERT_EQ(f.size(), 3 + original.size());
    for (std::size_t i = 0; i < original.size(); ++i) {
      EXPECT_EQ(f[3 + i].name, "orig." + original[i].name);
      EXPECT_EQ(f[3 + i].value, original[i].value);
    }
  }
  EXPECT_EQ(reasons.size(), 3U) << "each poison entry is rejected for its own reason";
}

TEST_F(ConsumerItest, AnEntryThatKeepsFailingIsDeadLetteredAtTheDeliveryLimit) {
  std::atomic<int> calls{0};
  auto o = options_for(stream_, group_, "c");
  o.claim_idle = 100ms;
  o.claim_interval = 50ms;
  o.max_deliveries = 3;
  RunningConsumer c(o, [&calls](const Delivery&) -> bool {
    ++calls;
    throw std::runtime_error("downstream is down");
  });
  const auto id = xadd_event(*redis_, stream_, make_event(4));
  ASSERT_TRUE(eventually([&] { return stream_length(*redis_, stream_ + ":dead") == 1; }));
  ASSERT_TRUE(eventually([&] { return pending_count(*redis_, stream_, group_) == 0; }));
  c.stop();
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(c.consumer().stats().handler_failures, 3U);
  auto dead = must(*redis_, {"XRANGE", stream_ + ":dead", "-", "+"});
  const auto entries = redis::parse_entries(dead.get());
  ASSERT_EQ(entries->size(), 1U);
  EXPECT_EQ((*entries)[0].fields->at(0).value, id);
  EXPECT_EQ((*entries)[0].fields->at(1).value, "delivery limit 3 exceeded");
}

TEST_F(ConsumerItest, ARestartedConsumerResumesItsOwnPendingEntries) {
  must(*redis_, {"XGROUP", "CREATE", stream_, group_, "0", "MKSTREAM"});
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.insert(xadd_event(*redis_, stream_, make_event(i)));
  }
  // Its previous life read everything and crashed before acknowledging.
  must(*redis_, {"XREADGROUP", "GROUP", group_, "c", "STREAMS", stream_, ">"});
  Recorder rec;
  RunningConsumer c(options_for(stream_, group_, "c"), [&rec](const Delivery& d) {
    rec.add("c", d.id, d.event, d.delivery_count);
    return true;
  });
  ASSERT_TRUE(eventually([&] { return rec.size() >= ids.size(); }));
  ASSERT_TRUE(eventually([&] { return pending_count(*redis_, stream_, group_) == 0; }));
  c.stop();
  std::set<std::string> handled;
  for (const auto& s : rec.seen()) {
    handled.insert(s.id);
    EXPECT_EQ(s.delivery, 2) << "the second delivery of " << s.id;
  }
  EXPECT_EQ(handled, ids);
  EXPECT_EQ(c.consumer().stats().claimed, 0U) << "resumed from its own PEL, not by claiming";
}

TEST_F(ConsumerItest, PendingEntriesTrimmedAwayAreAcknowledgedAndCounted) {
  must(*redis_, {"XGROUP", "CREATE", stream_, group_, "0", "MKSTREAM"});
  for (int i = 0; i < 10; ++i) {
    xadd_event(*redis_, stream_, make_event(i));
  }
  must(*redis_, {"XREADGROUP", "GROUP", group_, "doomed", "STREAMS", stream_, ">"});
  must(*redis_, {"XTRIM", stream_, "MAXLEN", "0"});
  auto o = options_for(stream_, group_, "survivor");
  o.claim_idle = 100ms;
  o.claim_interval = 50ms;
  std::atomic<int> calls{0};
  RunningConsumer c(o, [&calls](const Delivery&) {
    ++calls;
    return true;
  });
  ASSERT_TRUE(eventually([&] { return pending_count(*redis_, stream_, group_) == 0; }));
  ASSERT_TRUE(eventually([&] { return c.consumer().stats().deleted == 10; }))
      << c.consumer().stats().deleted;
  c.stop();
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(ConsumerItest, EntriesWrittenByRedisCliInTheDocumentedEncodingDecode) {
  const auto ep = parse_redis_url(redis_url());
  ASSERT_TRUE(ep);
  ASSERT_EQ(ep->transport, RedisEndpoint::Transport::tcp);
  Recorder rec;
  RunningConsumer c(options_for(stream_, group_, "c"), [&rec](const Delivery& d) {
    rec.add("c", d.id, d.event, d.delivery_count);
    return true;
  });
  ASSERT_TRUE(eventually([&] { return stream_length(*redis_, stream_) == 0; }));
  const auto out = testsupport::run(
      {"redis-cli", "-h", ep->host, "-p", std::to_string(ep->port), "XADD", stream_, "*", "game_id",
       "game-123", "container_id", "7c2b5d1a4f6e", "event_type", "probe_failed", "occurred_at_ms",
       "1775121810000", "details",
       R"({"consecutive_failures":3,"last_status":0,"last_error":"context deadline exceeded"})"},
      30s);
  ASSERT_EQ(out.exit_code, 0) << out.output;
  ASSERT_TRUE(eventually([&] { return rec.size() == 1; }));
  c.stop();
  const contract::Event expected{"game-123", "7c2b5d1a4f6e", 1775121810000,
                                 contract::ProbeFailed{3, 0, "context deadline exceeded"}};
  EXPECT_EQ(rec.seen()[0].event, expected);
  EXPECT_EQ(rec.seen()[0].id + "\n", out.output);
}

// The "done" scenario: thousands of entries with poison among them, two consumers, one killed
// with SIGKILL at a random point (a separate process, so it really dies mid-batch).
TEST_F(ConsumerItest, ThousandsOfEntriesTwoConsumersOneKilledNothingLost) {
  must(*redis_, {"XGROUP", "CREATE", stream_, group_, "0", "MKSTREAM"});
  const std::string processed = stream_ + ":processed";
  std::set<std::string> valid;
  std::set<std::string> poison;
  const auto bad = poison_entries();
  for (int i = 0; i < 3000; ++i) {
    if (i % 97 == 13) {
      poison.insert(xadd_fields(*redis_, stream_, bad[static_cast<std::size_t>(i) % bad.size()]));
    } else {
      valid.insert(xadd_event(*redis_, stream_, make_event(i)));
    }
  }
  // Each consumer's side effect is idempotent by entry ID, as at-least-once requires.
  auto side_effect = [&processed](const std::string& who) {
    return [conn = std::make_shared<redis::Connection>(connect(redis_url())), processed,
            who](const Delivery& d) {
      must(*conn, {"SADD", processed, std::string(d.id)});
      must(*conn, {"SADD", processed + ":" + who, std::string(d.id)});
      return true;
    };
  };
  auto o = options_for(stream_, group_, "victim");
  o.count = 50;
  o.claim_idle = 500ms;
  o.claim_interval = 100ms;
  std::mt19937 rng(std::random_device{}());
  const auto kill_after = std::uniform_int_distribution<int>(20, 600)(rng);
  const pid_t victim = ::fork();
  ASSERT_GE(victim, 0);
  if (victim == 0) {
    try {
      const SystemClock clock;
      Consumer consumer(o, side_effect("victim"), clock);
      consumer.run();
    } catch (...) {
    }
    ::_exit(0);
  }
  auto survivor_opts = o;
  survivor_opts.consumer = "survivor";
  RunningConsumer survivor(survivor_opts, side_effect("survivor"));
  const bool reached = eventually([&] {
    return redis::integer(must(*redis_, {"SCARD", processed + ":victim"}).get()).value_or(0) >=
           kill_after;
  });
  ::kill(victim, SIGKILL);
  int status = 0;
  ::waitpid(victim, &status, 0);
  ASSERT_TRUE(reached) << "the victim never handled " << kill_after << " entries";
  ASSERT_TRUE(WIFSIGNALED(status));

  ASSERT_TRUE(eventually(
      [&] {
        return redis::integer(must(*redis_, {"SCARD", processed}).get()).value_or(0) ==
                   static_cast<std::int64_t>(valid.size()) &&
               stream_length(*redis_, stream_ + ":dead") ==
                   static_cast<std::int64_t>(poison.size()) &&
               pending_count(*redis_, stream_, group_) == 0;
      },
      180s))
      << "processed " << redis::integer(must(*redis_, {"SCARD", processed}).get()).value_or(0)
      << " of " << valid.size() << ", dead " << stream_length(*redis_, stream_ + ":dead") << " of "
      << poison.size() << ", pending " << pending_count(*redis_, stream_, group_);
  survivor.stop();

  std::set<std::string> done;
  const auto members = must(*redis_, {"SMEMBERS", processed});
  for (const redisReply* m : redis::elements(members.get())) {
    done.insert(std::string(redis::text(m)));
  }
  EXPECT_EQ(done, valid) << "every valid entry processed at least once, nothing else";
  std::set<std::string> dead_ids;
  auto dead = must(*redis_, {"XRANGE", stream_ + ":dead", "-", "+"});
  for (const auto& e : *redis::parse_entries(dead.get())) {
    dead_ids.insert(e.fields->at(0).value);
  }
  EXPECT_EQ(dead_ids, poison);
  RecordProperty("killed_after", kill_after);
}

}  // namespace
}  // namespace galaxy::consumer::itest
