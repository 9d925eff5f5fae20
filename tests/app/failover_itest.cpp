// Backend failovers in the middle of real container events: the master of a Redis under Sentinel
// SIGKILLed (the daemon with --redis-wait-replicas 1, a consumer group reading through it), the
// master of the stream's slot of a Redis Cluster SIGKILLed, and a PostgreSQL primary stopped with
// -m immediate and its synchronous standby promoted. Each topology is the harness's own
// (scripts/topology), started for the test and removed after it. Every test asserts each event
// exactly once in the stream and each snapshot its game's latest event.

#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "durable.hpp"
#include "galaxy/consumer/consumer.hpp"
#include "galaxy/testsupport/topology.hpp"
#include "galaxy/testsupport/wait.hpp"

namespace {

using namespace galaxy;
using namespace galaxy::apptest;
using namespace std::chrono_literals;

class FailoverTest : public DurableTest {
 protected:
  // The daemon's backends are the topology's: DurableTest's database on the dev server is not
  // used, and the stream lives in the topology's Redis.
  void use_backends(const std::string& redis_url, const std::string& pg_url) {
    sql(admin_url_, "DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
    redis_url_ = redis_url;
    admin_url_ = pg_url;
    db_url_ = ts::with_database(pg_url, db_);
    sql(admin_url_, "CREATE DATABASE " + db_);
  }

  std::vector<std::string> sink_args() override {
    std::vector<std::string> a = {"--sink",         "durable", "--redis-url",  redis_url_,
                                  "--postgres-url", db_url_,   "--stream",     stream_,
                                  "--host-id",      host_id(), "--api-listen", ""};
    a.insert(a.end(), extra_sink_args_.begin(), extra_sink_args_.end());
    return a;
  }

  // Engines that start now and exit one after another over about `spread`: a burst of started,
  // exited and inspect_unhealthy events that the failover lands in the middle of.
  std::vector<std::string> burst(int engines, std::chrono::milliseconds spread) {
    std::vector<std::string> ids;
    for (int i = 0; i < engines; ++i) {
      const auto after = 300ms + spread * i / engines;
      ids.push_back(run("game-" + std::to_string(i), {},
                        {"--exit-code", std::to_string(i % 5 + 1), "--exit-after-ms",
                         std::to_string(after.count())}));
    }
    return ids;
  }

  // Waits for every engine's exit and its inspect round, then checks the whole stream: each
  // engine started then exited once, one inspect_unhealthy each, nothing else, nothing twice, and
  // every snapshot its game's latest entry.
  std::vector<Entry> expect_each_event_once(const std::vector<std::string>& ids) {
    auto done = [&](const std::vector<Entry>& es) {
      return std::all_of(ids.begin(), ids.end(), [&](const std::string& id) {
        return has(es, id, EventType::container_exited) &&
               has(es, id, EventType::inspect_unhealthy);
      });
    };
    wait_stream(done, 120s, "every engine's exit and inspect after the failover");
    // Confirmed too (the snapshots are written then): with --redis-wait-replicas only once a
    // replica has the entries.
    EXPECT_TRUE(ts::eventually(
        [&] { return sql(db_url_, "SELECT count(*) FROM health_outbox").at(0).at(0) == "0"; }, 120s,
        250ms))
        << "outbox rows were never confirmed";
    std::this_thread::sleep_for(3s);  // stragglers (a late duplicate would land now)
    auto entries = read_stream();

    std::set<std::string> seen;
    std::map<std::string, std::vector<contract::Details>> life;
    std::map<std::string, int> unhealthy;
    for (const auto& en : entries) {
      EXPECT_TRUE(seen.insert(contract::encode_payload(en.event)).second)
          << "duplicate entry " << en.id << ": " << contract::encode_payload(en.event);
      if (en.event.type() == EventType::inspect_unhealthy) {
        ++unhealthy[en.event.container_id];
      } else {
        life[en.event.container_id].push_back(en.event.details);
      }
    }
    EXPECT_EQ(life.size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const contract::Details started = contract::ContainerStarted{kImage};
      const contract::Details exited =
          contract::ContainerExited{static_cast<int>(i % 5 + 1), false};
      EXPECT_EQ(life[ids[i]], (std::vector<contract::Details>{started, exited})) << "engine " << i;
      EXPECT_EQ(unhealthy[ids[i]], 1) << "engine " << i;
    }

    std::map<std::string, Entry> latest;
    for (const auto& en : entries) {
      auto it = latest.find(en.event.game_id);
      if (it == latest.end() || en.event.occurred_at_ms >= it->second.event.occurred_at_ms) {
        latest.insert_or_assign(en.event.game_id, en);
      }
    }
    const auto rows = sql(db_url_,
                          "SELECT game_id, event_type, occurred_at_ms, stream_id "
                          "FROM health_snapshots ORDER BY game_id");
    EXPECT_EQ(rows.size(), latest.size());
    for (const auto& row : rows) {
      const Entry& want = latest.at(row[0]);
      EXPECT_EQ(row[1], contract::to_string(want.event.type())) << row[0];
      EXPECT_EQ(row[2], std::to_string(want.event.occurred_at_ms)) << row[0];
      EXPECT_EQ(row[3], want.id) << row[0];
    }
    return entries;
  }

  // Milliseconds from `killed_ms` (system clock) to the first stream entry created after it: the
  // ms part of a Redis entry ID is the new master's clock, the same machine's.
  static std::int64_t first_entry_after(const std::vector<Entry>& entries, std::int64_t killed_ms) {
    for (const auto& en : entries) {
      const std::int64_t ms = std::stoll(en.id.substr(0, en.id.find('-')));
      if (ms > killed_ms) {
        return ms - killed_ms;
      }
    }
    return -1;
  }

  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // Waits for the first entry the new master took after the old one died, then brings the old
  // one back: it rejoins as the new master's replica, which --redis-wait-replicas 1 needs before
  // the relay confirms anything again (the promoted master has no replica of its own).
  std::int64_t follow_failover(std::int64_t killed_ms) {
    std::int64_t to_first = -1;
    wait_stream(
        [&](const std::vector<Entry>& es) {
          to_first = first_entry_after(es, killed_ms);
          return to_first >= 0;
        },
        60s, "a first entry on the new master");
    topo_->restart_killed();
    return to_first;
  }

  // The pid of the topology's Redis node on `port` (scripts/topology keeps
  // DIR/nodes/NAME/{port,pid}).
  pid_t node_pid(const std::string& port) const {
    for (const auto& node : std::filesystem::directory_iterator(topo_->dir() + "/nodes")) {
      std::ifstream p(node.path() / "port");
      std::string text;
      if (p >> text && text == port) {
        std::ifstream in(node.path() / "pid");
        pid_t pid = 0;
        in >> pid;
        return pid;
      }
    }
    ADD_FAILURE() << "no node on port " << port;
    return 0;
  }
  static std::string port_of(const std::string& url) {
    const auto colon = url.rfind(':');
    return url.substr(colon + 1, url.find('/', colon) - colon - 1);
  }
  std::int64_t outbox_rows() {
    return std::stoll(sql(db_url_, "SELECT count(*) FROM health_outbox").at(0).at(0));
  }

  std::vector<std::string> extra_sink_args_;
  // A member, so it outlives TearDown (which deletes the stream from it).
  std::optional<ts::Topology> topo_;
};

// A consumer group member on its own thread, recording every delivery.
class GroupReader {
 public:
  GroupReader(const std::string& redis_url, const std::string& stream) {
    consumer::ConsumerOptions o;
    o.redis_url = redis_url;
    o.stream = stream;
    o.group = "failover-itest";
    o.consumer = "reader-1";
    o.start_id = "0";
    o.block = 500ms;
    o.connect_timeout = 1s;
    o.command_timeout = 2s;
    o.reconnect_max = 1s;
    consumer_ = std::make_unique<consumer::Consumer>(
        o,
        [this](const consumer::Delivery& d) {
          std::lock_guard lock(mu_);
          deliveries_.emplace_back(d.id, contract::encode_payload(d.event));
          return true;
        },
        clock_);
    thread_ = std::thread([this] { consumer_->run(); });
  }
  ~GroupReader() {
    consumer_->stop();
    thread_.join();
  }
  GroupReader(const GroupReader&) = delete;
  GroupReader& operator=(const GroupReader&) = delete;

  std::vector<std::pair<std::string, std::string>> deliveries() const {
    std::lock_guard lock(mu_);
    return deliveries_;
  }

 private:
  SystemClock clock_;
  std::unique_ptr<consumer::Consumer> consumer_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> deliveries_;  // entry id, payload
  std::thread thread_;
};

TEST_F(FailoverTest, ASentinelFailoverMidBurstLosesNothingWithWaitReplicasAndTheGroupReadsOn) {
  topo_.emplace(ts::Topology::up("sentinel"));
  use_backends(topo_->value("SENTINEL_URL"), admin_url_);
  extra_sink_args_ = {"--redis-wait-replicas", "1", "--redis-wait-timeout", "500ms"};
  auto d = start_daemon({"--inspect-interval", "1s"});
  GroupReader reader(redis_url_, stream_);

  const auto ids = burst(12, 6s);
  const auto killed_port = topo_->kill_master();
  // Taken once the master is dead: any entry after it is the new master's.
  const std::int64_t killed_ms = now_ms();
  const auto to_first = follow_failover(killed_ms);
  const auto entries = expect_each_event_once(ids);
  RecordProperty("master_death_to_first_entry_ms", std::to_string(to_first));
  std::cout << "sentinel: master :" << killed_port << " SIGKILLed; first entry on the new master "
            << to_first << " ms later\n";
  EXPECT_GE(to_first, 0) << "no entry was written after the master died";

  // The group saw every payload the stream holds; what the failover made it see twice is
  // counted (the entry ID dedupes an XACK the old master lost; an entry read on the old master
  // before it replicated comes again under a new ID: docs/failover.md).
  std::set<std::string> want;
  for (const auto& en : entries) {
    want.insert(contract::encode_payload(en.event));
  }
  const bool all = ts::eventually(
      [&] {
        std::set<std::string> got;
        for (const auto& [id, payload] : reader.deliveries()) {
          got.insert(payload);
        }
        return std::includes(got.begin(), got.end(), want.begin(), want.end());
      },
      60s);
  EXPECT_TRUE(all) << "the consumer group missed entries across the failover";
  const auto got = reader.deliveries();
  RecordProperty("group_redeliveries", std::to_string(got.size() - want.size()));
  std::cout << "sentinel: the group got " << got.size() << " deliveries for " << want.size()
            << " entries\n";
  d->stop();
}

// The loss the issue saw, made certain rather than left to timing: the replica is frozen and 32
// MiB are queued for it ahead of an engine's start, so that start reaches the master only; the
// master is SIGKILLed and the replica promoted without it. With --redis-wait-replicas 1 the row was
// never confirmed, so the relay adds the event again on the new master: once. (With 0 the row would
// have been deleted on the master's answer and the event lost.)
TEST_F(FailoverTest, AnEntryOnlyTheDeadMasterHadIsAddedAgainOnThePromotedReplica) {
  topo_.emplace(ts::Topology::up("sentinel"));
  use_backends(topo_->value("SENTINEL_URL"), admin_url_);
  extra_sink_args_ = {"--redis-wait-replicas", "1", "--redis-wait-timeout", "200ms"};
  auto d = start_daemon({"--inspect-interval", "1s"});
  const auto a = run("game-a", {}, {"--exit-code", "1", "--exit-after-ms", "300"});
  wait_stream([&](const auto& es) { return has(es, a, EventType::inspect_unhealthy); }, 60s,
              "a's exit and inspect");
  ASSERT_TRUE(ts::eventually([&] { return outbox_rows() == 0; }, 60s, 100ms));

  const pid_t replica = node_pid(port_of(topo_->value("REPLICA_URL")));
  const pid_t master = node_pid(port_of(topo_->value("MASTER_URL")));
  ASSERT_GT(replica, 0);
  ASSERT_GT(master, 0);
  ASSERT_EQ(::kill(replica, SIGSTOP), 0);
  // A frozen replica still gets what the kernel's socket buffers hold when it wakes; 32 MiB
  // ahead of b's entry in the replication stream keep b's entry in the master's own output
  // buffer, which dies with it.
  const std::string master_url = topo_->value("MASTER_URL");
  (void)ts::redis_command(
      master_url, {"SET", "failover-itest:ballast", std::string(std::size_t{32} << 20, 'x')});
  const auto b = run("game-b", {});
  const bool on_master_only = ts::eventually(
      [&] {
        bool there = false;
        for (const auto& [id, fields] : ts::read_stream(master_url, stream_)) {
          auto ev = contract::decode_entry(fields);
          there = there || (ev && ev->container_id == b);
        }
        return there && outbox_rows() > 0;
      },
      30s, 50ms);
  ::kill(master, SIGKILL);
  ::kill(replica, SIGCONT);
  ASSERT_TRUE(on_master_only) << "b's start never reached the master, or its row was confirmed "
                                 "without a replica";

  auto entries =
      wait_stream([&](const auto& es) { return has(es, b, EventType::container_started); }, 90s,
                  "b's start on the promoted replica");
  std::this_thread::sleep_for(2s);
  entries = read_stream();
  std::map<std::string, std::vector<EventType>> life;
  for (const auto& en : entries) {
    life[en.event.container_id].push_back(en.event.type());
  }
  EXPECT_EQ(life[a],
            (std::vector<EventType>{EventType::container_started, EventType::container_exited,
                                    EventType::inspect_unhealthy}));
  EXPECT_EQ(life[b], (std::vector<EventType>{EventType::container_started}))
      << "b's start once, added again by the relay";
  EXPECT_GT(outbox_rows(), 0) << "the new master has no replica: nothing is confirmed yet";
  d->stop();
}

TEST_F(FailoverTest, AClusterFailoverOfTheStreamsSlotLosesNothing) {
  topo_.emplace(ts::Topology::up("cluster"));
  use_backends(topo_->value("CLUSTER_URL"), admin_url_);
  extra_sink_args_ = {"--redis-wait-replicas", "1", "--redis-wait-timeout", "500ms"};
  auto d = start_daemon({"--inspect-interval", "1s"});

  const auto ids = burst(12, 6s);
  const auto killed_port = topo_->kill_master(stream_);
  const std::int64_t killed_ms = now_ms();
  const auto to_first = follow_failover(killed_ms);
  expect_each_event_once(ids);
  RecordProperty("master_death_to_first_entry_ms", std::to_string(to_first));
  std::cout << "cluster: master :" << killed_port << " of the stream's slot SIGKILLed; first entry "
            << "on the new master " << to_first << " ms later\n";
  EXPECT_GE(to_first, 0) << "no entry was written after the master died";
  d->stop();
}

TEST_F(FailoverTest, APostgresPrimaryStoppedImmediatelyAndItsSyncStandbyPromotedLosesNothing) {
  topo_.emplace(ts::Topology::up("pg-pair"));
  use_backends(redis_url_, topo_->value("PG_URL"));
  auto d = start_daemon({"--inspect-interval", "1s"});

  const auto ids = burst(12, 6s);
  std::this_thread::sleep_for(1500ms);  // some commits in, most to come
  topo_->kill_master();
  std::this_thread::sleep_for(2s);  // the writer and the relay find no read-write server
  topo_->promote();
  expect_each_event_once(ids);
  d->stop();
}

}  // namespace
