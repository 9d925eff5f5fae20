// The durable path against real Redis and PostgreSQL: every event exactly once in the stream, in
// emission order; snapshots at each game's latest event; survival of redis-server kill -9,
// PostgreSQL stop/start, a wrong Redis password and PostgreSQL down at start. Services come from
// GALAXY_REDIS_URL / GALAXY_POSTGRES_URL (a fresh database and stream key per test), or are
// private instances started here when a test must kill them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "galaxy/contract/codec.hpp"
#include "galaxy/publish/durable_sink.hpp"
#include "galaxy/publish/host_lease.hpp"
#include "galaxy/publish/pg_outbox.hpp"
#include "galaxy/publish/redis_stream.hpp"
#include "galaxy/redis/connection.hpp"
#include "galaxy/testsupport/backends.hpp"
#include "galaxy/testsupport/http.hpp"
#include "galaxy/testsupport/net.hpp"
#include "galaxy/testsupport/process.hpp"
#include "galaxy/testsupport/wait.hpp"

namespace galaxy::publish {
namespace {

using namespace std::chrono_literals;
using contract::Event;
using testsupport::eventually;
using testsupport::free_port;
using testsupport::require_env;

int g_counter = 0;
std::string unique_name(const std::string& prefix) {
  return prefix + std::to_string(::getpid()) + "_" + std::to_string(++g_counter);
}

using Rows = testsupport::SqlRows;
using testsupport::with_database;

Rows pg_query(const std::string& url, const std::string& sql) {
  return testsupport::sql(url, sql);
}

// CREATE DATABASE t_<pid>_<n> on the shared server; dropped at the end.
struct FreshDb {
  std::string admin = require_env("GALAXY_POSTGRES_URL");
  std::string name = unique_name("t_pub_");
  std::string url;
  FreshDb() {
    pg_query(admin, "CREATE DATABASE " + name);
    url = with_database(admin, name);
  }
  ~FreshDb() {
    try {
      pg_query(admin, "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): best-effort cleanup
    }
  }
  FreshDb(const FreshDb&) = delete;
  FreshDb& operator=(const FreshDb&) = delete;
};

// A connection of the test's own (one per client, like the daemon's relay).
class RedisClient {
 public:
  explicit RedisClient(std::string url)
      : url_(std::move(url)),
        c_(redis::Connection::open(parse_redis_url(url_).value(), 10s, 10s).value()) {}

  redis::ReplyPtr cmd(const std::vector<std::string>& argv) {
    auto r = c_.command(argv);
    if (!r) {
      throw std::runtime_error(r.error().message());
    }
    return std::move(*r);
  }

  // Every entry of the stream, decoded with the contract codec; a bad entry fails the test.
  std::vector<std::pair<std::string, Event>> read_stream(const std::string& key) {
    std::vector<std::pair<std::string, Event>> out;
    for (auto& [id, fields] : testsupport::read_stream(url_, key)) {
      auto ev = contract::decode_entry(fields);
      if (!ev) {
        throw std::runtime_error("entry " + id + " breaks the contract: " + ev.error().message());
      }
      out.emplace_back(id, *ev);
    }
    return out;
  }

 private:
  std::string url_;
  redis::Connection c_;
};

// The host every sink of these tests writes as, and its lease: a sink writes nothing unless its
// fence is the host's current lease.
const std::string kHost = "itest-host";

HostFence lease_for(const std::string& pg_url) {
  auto a = take_lease(pg::parse_target(pg_url).value(),
                      HostIdentity{kHost, "itest-daemon", "itest", "test"}, std::chrono::hours(1));
  if (!a) {
    throw std::runtime_error("taking the test host's lease: " + a.error().message());
  }
  return {kHost, a->epoch};
}

// A unique stream key on the shared Redis, deleted (with its dedupe keys) at the end.
struct FreshStream {
  std::string url = require_env("GALAXY_REDIS_URL");
  std::string key = unique_name("test:publish:") + ":health_events";
  ~FreshStream() {
    try {
      RedisClient(url).cmd(
          {"DEL", key, "{" + key + "}:hwm:" + kHost, "{" + key + "}:idmp:" + kHost});
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): best-effort cleanup
    }
  }
};

std::filesystem::path temp_dir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  return tmpl;
}

// A redis-server of this test's own (AOF, appendfsync always), which it may kill -9.
class PrivateRedis {
 public:
  explicit PrivateRedis(std::string password = "")
      : port_(free_port()), dir_(temp_dir("gpub-redis-")), password_(std::move(password)) {
    start();
  }
  ~PrivateRedis() {
    proc_.reset();
    std::filesystem::remove_all(dir_);
  }
  PrivateRedis(const PrivateRedis&) = delete;
  PrivateRedis& operator=(const PrivateRedis&) = delete;

  void start() {
    std::vector<std::string> argv{"redis-server",
                                  "--port",
                                  std::to_string(port_),
                                  "--bind",
                                  "127.0.0.1",
                                  "--dir",
                                  dir_.string(),
                                  "--logfile",
                                  (dir_ / "redis.log").string(),
                                  "--save",
                                  "",
                                  "--appendonly",
                                  "yes",
                                  "--appendfsync",
                                  "always"};
    if (!password_.empty()) {
      argv.insert(argv.end(), {"--requirepass", password_});
    }
    proc_ = std::make_unique<testsupport::Child>(argv);
    const bool up = eventually(
        [&] {
          try {
            return redis::text(RedisClient(url(password_)).cmd({"PING"}).get()) == "PONG";
          } catch (const std::exception&) {
            return false;
          }
        },
        30s);
    if (!up) {
      throw std::runtime_error("private redis-server did not come up on port " +
                               std::to_string(port_));
    }
  }
  void kill9() {
    proc_->kill(SIGKILL);
    proc_->wait(10s);
  }
  std::string url(const std::string& password) const {
    return "redis://" + (password.empty() ? "" : ":" + password + "@") +
           "127.0.0.1:" + std::to_string(port_);
  }

 private:
  std::uint16_t port_;
  std::filesystem::path dir_;
  std::string password_;
  std::unique_ptr<testsupport::Child> proc_;
};

// A PostgreSQL of this test's own, which it may stop and start. initdb and postgres refuse to run
// as root: it runs as the system user scripts/services made for the harness' own PostgreSQL
// (GALAXY_PG_SYSTEM_USER in the services' env), so the test needs nothing made by hand.
class PrivatePostgres {
 public:
  PrivatePostgres() : user_(system_user()), port_(free_port()), dir_(temp_dir("gpub-pg-")) {
    const passwd* pw = ::getpwnam(user_.c_str());  // NOLINT(concurrency-mt-unsafe): one thread
    if (pw == nullptr) {
      throw std::runtime_error("system user " + user_ +
                               " (GALAXY_PG_SYSTEM_USER) is missing: run scripts/services up");
    }
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("chown " + dir_.string() + " failed");
    }
    as_pg({bin("initdb"), "-D", (dir_ / "data").string(), "-A", "trust", "-U", "postgres"});
  }
  ~PrivatePostgres() {
    testsupport::run({"runuser", "-u", user_, "--", bin("pg_ctl"), "-D", (dir_ / "data").string(),
                      "-m", "immediate", "-w", "stop"},
                     60s);
    std::filesystem::remove_all(dir_);
  }
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;

  void start() {
    as_pg(
        {bin("pg_ctl"), "-D", (dir_ / "data").string(), "-o",
         "-p " + std::to_string(port_) + " -k " + dir_.string() + " -c listen_addresses=127.0.0.1",
         "-l", (dir_ / "log").string(), "-w", "start"});
  }
  // -m immediate: a crash, recovered from WAL at the next start.
  void crash() {
    as_pg({bin("pg_ctl"), "-D", (dir_ / "data").string(), "-m", "immediate", "-w", "stop"});
  }
  std::string url(const std::string& password = "") const {
    return "postgresql://postgres" + (password.empty() ? "" : ":" + password) +
           "@127.0.0.1:" + std::to_string(port_) + "/postgres";
  }

 private:
  static std::string system_user() {
    const char* user = std::getenv("GALAXY_PG_SYSTEM_USER");  // NOLINT(concurrency-mt-unsafe)
    if (user == nullptr || *user == '\0') {
      throw std::runtime_error(
          "GALAXY_PG_SYSTEM_USER is not set: run the test with scripts/services' env");
    }
    return user;
  }
  static std::string bin(const char* tool) {
    return std::string("/usr/lib/postgresql/15/bin/") + tool;
  }
  void as_pg(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"runuser", "-u", user_, "--"});
    const auto r = testsupport::run(argv, 120s);
    if (r.exit_code != 0) {
      throw std::runtime_error(argv[4] + " failed: " + r.output);
    }
  }
  std::string user_;
  std::uint16_t port_;
  std::filesystem::path dir_;
};

contract::Details details_for(int i) {
  switch (i % 7) {
    case 0:
      return contract::ContainerStarted{"engine:" + std::to_string(i)};
    case 1:
      return contract::ContainerExited{i % 256, i % 2 == 0};
    case 2:
      return contract::ContainerOom{137};
    case 3:
      return contract::ContainerDisappeared{};
    case 4:
      return contract::InspectUnhealthy{i, "running", "unhealthy"};
    case 5:
      return contract::ProbeFailed{3, 0, "context deadline exceeded \"quoted\" é"};
    default:
      return contract::ProbeRecovered{i};
  }
}

// Emits events [from, from+n) as transitions of 1-3 events, each with a cursor record, and
// records what was emitted.
struct Emitter {
  std::vector<Event> emitted;
  int games = 40;
  void emit(contract::TransitionSink& sink, int from, int n) {
    for (int i = from; i < from + n;) {
      contract::Transition t;
      const int k = std::min(1 + i % 3, from + n - i);
      for (int j = 0; j < k; ++j, ++i) {
        Event e{"game-" + std::to_string(i % games), "c" + std::to_string(i % 97),
                1'775'000'000'000 + i, details_for(i)};
        emitted.push_back(e);
        t.events.push_back(std::move(e));
      }
      t.state.push_back({"cursor", "{\"since\":" + std::to_string(i) + "}"});
      sink.apply(std::move(t));
    }
  }
};

DurableSinkSettings settings_for(const std::string& redis_url, const std::string& pg_url,
                                 const std::string& stream) {
  DurableSinkSettings s;
  s.fence = lease_for(pg_url);
  s.redis_url = redis_url;
  s.postgres_url = pg_url;
  s.stream = stream;
  s.backoff_min = 20ms;
  s.backoff_max = 500ms;
  s.io_timeout = 5'000ms;
  s.connect_timeout = 2'000ms;
  return s;
}

std::int64_t outbox_rows(const std::string& pg_url) {
  return std::stoll(pg_query(pg_url, "SELECT count(*) FROM health_outbox").at(0).at(0));
}

// Waits until every emitted event is committed and relayed, then checks the stream holds exactly
// the emitted events, in emission order.
void expect_delivered(DurableSink& sink, const std::string& pg_url, RedisClient& redis,
                      const std::string& stream, const std::vector<Event>& emitted) {
  ASSERT_TRUE(eventually([&] {
    return sink.stats().events_committed >= emitted.size() && outbox_rows(pg_url) == 0;
  })) << "committed "
      << sink.stats().events_committed << " of " << emitted.size()
      << ", last error: " << sink.stats().last_error;
  const auto entries = redis.read_stream(stream);
  std::vector<Event> got;
  got.reserve(entries.size());
  for (const auto& [id, e] : entries) {
    got.push_back(e);
  }
  ASSERT_EQ(got.size(), emitted.size()) << "every event exactly once";
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], emitted[i]) << "entry " << i << " (" << entries[i].first << ")";
  }
}

// Each game's snapshot is its latest emitted event by (occurred_at_ms, emission order).
void expect_snapshots(const std::string& pg_url, const std::vector<Event>& emitted) {
  std::map<std::string, const Event*> latest;
  for (const auto& e : emitted) {
    auto& slot = latest[e.game_id];
    if (slot == nullptr || e.occurred_at_ms >= slot->occurred_at_ms) {
      slot = &e;
    }
  }
  const auto rows = pg_query(pg_url,
                             "SELECT game_id, container_id, event_type, occurred_at_ms, "
                             "details::text, stream_id FROM health_snapshots ORDER BY game_id");
  ASSERT_EQ(rows.size(), latest.size());
  for (const auto& r : rows) {
    const Event* want = latest.at(r[0]);
    EXPECT_EQ(r[1], want->container_id) << r[0];
    EXPECT_EQ(r[2], contract::to_string(want->type())) << r[0];
    EXPECT_EQ(std::stoll(r[3]), want->occurred_at_ms) << r[0];
    EXPECT_EQ(boost::json::parse(r[4]), boost::json::parse(contract::encode_details(want->details)))
        << r[0];
    EXPECT_FALSE(r[5].empty()) << r[0];
  }
}

TEST(DurableSinkIT, BurstReachesStreamExactlyOnceInOrderWithSnapshotsAndState) {
  FreshDb db;
  FreshStream stream;
  RedisClient redis(stream.url);
  DurableSink sink(settings_for(stream.url, db.url, stream.key));
  sink.start();
  Emitter em;
  em.emit(sink, 0, 5000);
  contract::Transition last;
  last.state = {{"container/abc", "{\"reported\":true}"}, {"container/gone", "{}"}};
  sink.apply(last);
  sink.apply(contract::Transition{{}, {{"container/gone", std::nullopt}}});
  expect_delivered(sink, db.url, redis, stream.key, em.emitted);
  expect_snapshots(db.url, em.emitted);
  ASSERT_TRUE(eventually([&] { return sink.stats().queued == 0; }));
  sink.stop(10s);
  const auto s = sink.stats();
  EXPECT_EQ(s.events_committed, 5000U);
  EXPECT_EQ(s.events_relayed, 5000U);
  EXPECT_EQ(s.dropped_events, 0U);

  DurableSink again(settings_for(stream.url, db.url, stream.key));
  auto records = again.load_state(30s);
  ASSERT_TRUE(records) << records.error().message();
  std::map<std::string, boost::json::value> got;
  for (const auto& r : *records) {
    ASSERT_TRUE(r.value);
    got[r.key] = boost::json::parse(*r.value);
  }
  EXPECT_EQ(got.size(), 2U);
  EXPECT_EQ(got["cursor"], boost::json::parse("{\"since\":5000}"));
  EXPECT_EQ(got["container/abc"], boost::json::parse("{\"reported\":true}"));
}

// What promoting an asynchronous standby does to the host's counter: the last acknowledged
// commits are gone, and the seqs they took with them, while their events are in the stream. The
// next sink must add its new events, not take them for replays of those seqs.
TEST(DurableSinkIT, ADatabaseThatLostAcknowledgedCommitsStillAddsItsNewEvents) {
  FreshDb db;
  FreshStream stream;
  RedisClient redis(stream.url);
  Emitter em;
  {
    DurableSink sink(settings_for(stream.url, db.url, stream.key));
    sink.start();
    em.emit(sink, 0, 50);
    expect_delivered(sink, db.url, redis, stream.key, em.emitted);
    sink.stop(10s);
  }
  pg_query(db.url,
           "UPDATE host_leases SET last_seq = last_seq - 30 WHERE host_id = '" + kHost + "'");
  DurableSink sink(settings_for(stream.url, db.url, stream.key));
  ASSERT_TRUE(sink.load_state(30s));  // as the daemon does before its sources start
  sink.start();
  em.emit(sink, 50, 20);
  ASSERT_TRUE(eventually([&] {
    return sink.stats().events_committed >= 20U && outbox_rows(db.url) == 0;
  })) << sink.stats().last_error;
  const auto entries = redis.read_stream(stream.key);
  ASSERT_EQ(entries.size(), em.emitted.size()) << "the 20 new events were added";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].second, em.emitted[i]) << "entry " << i;
  }
  EXPECT_EQ(sink.stats().seq_rewinds, 1U);
  EXPECT_EQ(sink.stats().replays_skipped, 0U);
  sink.stop(10s);
}

TEST(DurableSinkIT, OlderEventNeverMovesSnapshotBackAndTiesGoToLaterEmission) {
  FreshDb db;
  FreshStream stream;
  RedisClient redis(stream.url);
  DurableSink sink(settings_for(stream.url, db.url, stream.key));
  sink.start();
  const std::vector<Event> events{{"g", "c1", 200, contract::ContainerStarted{"a"}},
                                  {"g", "c1", 100, contract::ContainerExited{1, false}},
                                  {"g", "c2", 200, contract::ContainerOom{137}}};
  std::vector<Event> sent;
  for (const auto& e : events) {
    // One at a time, each relayed before the next, so the guard meets them in separate
    // transactions (and once more all in one batch below).
    sent.push_back(e);
    sink.apply(contract::Transition{{e}, {}});
    expect_delivered(sink, db.url, redis, stream.key, sent);
  }
  auto rows = pg_query(db.url, "SELECT event_type, occurred_at_ms FROM health_snapshots");
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0][0], "container_oom");
  EXPECT_EQ(rows[0][1], "200");

  const Event older{"g", "c3", 150, contract::ProbeRecovered{4}};
  const Event newest{"g", "c3", 300, contract::ProbeFailed{3, 500, ""}};
  const Event oldest{"g", "c3", 50, contract::ContainerStarted{"b"}};
  sink.apply(contract::Transition{{older, newest, oldest}, {}});
  sent.insert(sent.end(), {older, newest, oldest});
  expect_delivered(sink, db.url, redis, stream.key, sent);
  rows = pg_query(db.url, "SELECT event_type, occurred_at_ms FROM health_snapshots");
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0][0], "probe_failed");
  EXPECT_EQ(rows[0][1], "300");
}

TEST(DurableSinkIT, ReplayedRelayStepAndRecommittedBatchAddNothing) {
  FreshDb db;
  FreshStream stream;
  RedisClient redis(stream.url);
  const HostFence fence = lease_for(db.url);
  PgOutbox pg(pg::parse_target(db.url).value(), 10s, fence);
  ASSERT_TRUE(pg.connect());
  Batch batch;
  batch.number = 1;
  for (int i = 0; i < 10; ++i) {
    batch.events.push_back({"game-" + std::to_string(i % 3), "c", i, details_for(i)});
  }
  ASSERT_TRUE(pg.commit(batch, "writer-a"));
  // The COMMIT reply was lost: the writer sends the same batch again after reconnecting.
  ASSERT_TRUE(pg.commit(batch, "writer-a"));
  EXPECT_EQ(pg.outbox_size().value(), 10);
  batch.number = 2;
  ASSERT_TRUE(pg.commit(batch, "writer-a"));
  EXPECT_EQ(pg.outbox_size().value(), 20);

  auto rows = pg.fetch(100);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 20U);
  std::vector<XaddItem> items;
  for (const auto& r : *rows) {
    items.push_back({r.seq, contract::encode_entry(contract::decode_payload(r.payload).value())});
  }
  RedisStream rs(parse_redis_url(stream.url).value(), StreamSettings{stream.key}, fence);
  ASSERT_TRUE(rs.connect());
  const std::string epoch = pg.database_id().value();
  auto first = rs.publish(epoch, 0, items);
  ASSERT_TRUE(first) << first.error().message();
  // The reply was lost: the relay runs the same step again.
  auto second = rs.publish(epoch, 0, items);
  ASSERT_TRUE(second) << second.error().message();
  ASSERT_EQ(first->size(), 20U);
  ASSERT_EQ(second->size(), 20U);
  for (std::size_t i = 0; i < 20; ++i) {
    EXPECT_TRUE((*first)[i].added);
    EXPECT_FALSE((*second)[i].added);
    EXPECT_EQ((*first)[i].id, (*second)[i].id) << "a replay reports the original entry ID";
  }
  EXPECT_EQ(redis.read_stream(stream.key).size(), 20U);

  // A flushed script cache (Redis restarted without its scripts) is recovered from.
  redis.cmd({"SCRIPT", "FLUSH"});
  auto third = rs.publish(epoch, 0, items);
  ASSERT_TRUE(third) << third.error().message();
  EXPECT_FALSE(third->front().added);
  EXPECT_EQ(redis.read_stream(stream.key).size(), 20U);
}

// The lost-COMMIT case as it really happens: the batch is resent on a new connection, whose
// first pipeline aborts at the guard before its other statements are prepared; the connection
// must go on committing (statements prepared per connection, only once the server accepted them).
TEST(DurableSinkIT, RecommitOnAFreshConnectionAbortsThenTheNextBatchCommits) {
  FreshDb db;
  Batch batch;
  batch.number = 1;
  for (int i = 0; i < 4; ++i) {
    batch.events.push_back({"game-" + std::to_string(i), "c", i, details_for(i)});
  }
  const HostFence fence = lease_for(db.url);
  {
    PgOutbox first(pg::parse_target(db.url).value(), 10s, fence);
    ASSERT_TRUE(first.connect());
    ASSERT_TRUE(first.commit(batch, "writer-a"));
  }
  PgOutbox pg(pg::parse_target(db.url).value(), 10s, fence);
  ASSERT_TRUE(pg.connect());
  auto again = pg.commit(batch, "writer-a");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(pg.outbox_size().value(), 4);
  for (std::uint64_t n = 2; n <= 4; ++n) {
    batch.number = n;
    auto next = pg.commit(batch, "writer-a");
    ASSERT_TRUE(next) << "batch " << n << ": " << next.error().message();
  }
  EXPECT_EQ(pg.outbox_size().value(), 16);
  auto rows = pg.fetch(100);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 16U);
  for (std::size_t i = 1; i < rows->size(); ++i) {
    EXPECT_EQ((*rows)[i].seq, (*rows)[i - 1].seq + 1);
  }
}

TEST(DurableSinkIT, RedisKilledMidBurstThenRestartedDeliversEveryEventOnce) {
  FreshDb db;
  PrivateRedis server;
  const std::string key = "runtime:health_events";
  RedisClient redis(server.url(""));
  DurableSink sink(settings_for(server.url(""), db.url, key));
  sink.start();
  Emitter em;
  em.emit(sink, 0, 3000);
  ASSERT_TRUE(eventually([&] { return sink.stats().events_relayed > 0; }));
  server.kill9();
  em.emit(sink, 3000, 3000);
  ASSERT_TRUE(eventually([&] { return sink.stats().events_committed == 6000; }))
      << sink.stats().last_error;
  server.start();
  em.emit(sink, 6000, 2000);
  RedisClient after(server.url(""));
  expect_delivered(sink, db.url, after, key, em.emitted);
  expect_snapshots(db.url, em.emitted);
  sink.stop(10s);
}

TEST(DurableSinkIT, PostgresCrashedMidBurstThenRestartedLosesNothing) {
  PrivatePostgres pg;
  pg.start();
  FreshStream stream;
  RedisClient redis(stream.url);
  DurableSink sink(settings_for(stream.url, pg.url(), stream.key));
  sink.start();
  Emitter em;
  em.emit(sink, 0, 3000);
  ASSERT_TRUE(eventually([&] { return sink.stats().events_committed > 0; }));
  pg.crash();
  em.emit(sink, 3000, 3000);
  ASSERT_TRUE(eventually([&] { return sink.stats().writer_errors > 0; }))
      << "the writer notices PostgreSQL is gone";
  pg.start();
  em.emit(sink, 6000, 1000);
  expect_delivered(sink, pg.url(), redis, stream.key, em.emitted);
  expect_snapshots(pg.url(), em.emitted);
  EXPECT_EQ(sink.stats().dropped_events, 0U);
  sink.stop(10s);
}

TEST(DurableSinkIT, WrongRedisPasswordIsReportedRedactedAndRetriedUntilFixed) {
  FreshDb db;
  const std::string right = "right-pw-1234";
  const std::string wrong = "wrong-pw-5678";
  PrivateRedis server(right);
  DurableSink sink(settings_for(server.url(wrong), db.url, "runtime:health_events"));
  sink.start();
  Emitter em;
  em.emit(sink, 0, 50);
  ASSERT_TRUE(eventually([&] { return sink.stats().relay_errors >= 2; }));
  const std::string err = sink.stats().last_error;
  EXPECT_NE(err.find("AUTH"), std::string::npos) << err;
  EXPECT_EQ(err.find(wrong), std::string::npos) << err;
  EXPECT_EQ(err.find(right), std::string::npos) << err;
  EXPECT_EQ(sink.stats().events_relayed, 0U);
  // The operator fixes it on the server side; the sink's retries then get through.
  RedisClient admin(server.url(right));
  admin.cmd({"CONFIG", "SET", "requirepass", wrong});
  RedisClient reader(server.url(wrong));
  expect_delivered(sink, db.url, reader, "runtime:health_events", em.emitted);
  sink.stop(10s);
}

TEST(DurableSinkIT, PostgresDownAtStartOverflowsThenRecoversAndAsksForResync) {
  PrivatePostgres pg;  // initialised, not started
  FreshStream stream;
  RedisClient redis(stream.url);
  const std::string secret = "pg-secret-9876";
  pg.start();  // only to take the lease before the test proper
  auto settings = settings_for(stream.url, pg.url(secret), stream.key);
  pg.crash();
  settings.queue_capacity = 60;
  std::atomic<int> resync_calls{0};
  settings.on_resync_needed = [&] { ++resync_calls; };
  DurableSink sink(settings);
  sink.start();
  Emitter em;
  em.emit(sink, 0, 60);  // transitions of 1-3 events: exactly 60 fit
  EXPECT_EQ(sink.stats().overflow_episodes, 0U);
  contract::Transition extra{{Event{"game-x", "c", 1, contract::ContainerStarted{"i"}}}, {}};
  sink.apply(extra);
  sink.apply(extra);
  auto s = sink.stats();
  EXPECT_EQ(s.overflow_episodes, 1U);
  EXPECT_EQ(s.dropped_events, 2U);
  EXPECT_EQ(s.dropped_transitions, 2U);
  EXPECT_TRUE(s.overflowed);
  EXPECT_FALSE(sink.needs_resync()) << "not before what was queued is stored";

  ASSERT_TRUE(eventually([&] { return sink.stats().writer_errors >= 2; }));
  const std::string err = sink.stats().last_error;
  EXPECT_NE(err.find("cannot connect"), std::string::npos) << err;
  EXPECT_EQ(err.find(secret), std::string::npos) << err;

  pg.start();
  ASSERT_TRUE(eventually([&] { return sink.needs_resync(); })) << sink.stats().last_error;
  EXPECT_EQ(resync_calls.load(), 1);
  EXPECT_FALSE(sink.stats().overflowed);
  sink.resync_done();
  EXPECT_FALSE(sink.needs_resync());
  em.emit(sink, 60, 10);  // accepted again
  expect_delivered(sink, pg.url(), redis, stream.key, em.emitted);
  sink.stop(10s);
}

}  // namespace
}  // namespace galaxy::publish
