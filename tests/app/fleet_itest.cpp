// A fleet on real services: two private dockerds (two hosts) sharing one Redis stream and one
// PostgreSQL database, daemons per host (one active, a hot standby), and the failures that matter:
// a restart, a SIGKILL of the active daemon, a SIGSTOP past its lease (then SIGCONT), and an
// upgrade from the single-host schema. Every fact must reach the stream exactly once, attributed
// to its host.

#include <fstream>
#include <sstream>

#include "durable.hpp"
#include "galaxy/testsupport/docker_hosts.hpp"

namespace {

using namespace galaxy::apptest;
using namespace std::chrono_literals;

// What every engine of these tests starts with.
contract::Details started() {
  return contract::ContainerStarted{kImage};
}

class FleetTest : public DurableTest {
 protected:
  void SetUp() override {
    DurableTest::SetUp();
    host_a_ = ts::docker_host_a();
    host_b_ = ts::docker_host_b();  // fails (not skips) when the second host is not up
    // Fails clearly when the second host is not up or lacks the test image.
    docker_on(host_b_, {"image", "inspect", "--format", "{{.Id}}", kImage});
  }
  void TearDown() override {
    daemons_.clear();
    for (const auto& h : {host_a_, host_b_}) {
      auto ids = ts::run({"docker", "-H", h, "ps", "-aq", "--filter", "label=" + label_}, 30s);
      std::istringstream in(ids.output);
      for (std::string id; in >> id;) {
        ts::run({"docker", "-H", h, "rm", "-f", id}, 30s);
      }
    }
    for (const auto& d : dirs_) {
      std::filesystem::remove_all(d);
    }
    DurableTest::TearDown();
  }

  static std::string docker_on(const std::string& host, const std::vector<std::string>& args) {
    return ts::docker_cli(host, args);
  }

  std::string run_on(const std::string& host, const std::string& game,
                     std::vector<std::string> cmd = {}) {
    std::vector<std::string> args = {"run", "-d", "--label", label_ + "=" + game, kImage};
    if (!cmd.empty()) {
      args.emplace_back("/engine");
      args.insert(args.end(), cmd.begin(), cmd.end());
    }
    return docker_on(host, args);
  }

  // A daemon for host `host_id` on `docker_host`, with its own state dir (named, so a restart of
  // "the same daemon" reuses it).
  Daemon& start(const std::string& name, const std::string& host_id, const std::string& docker_host,
                const std::vector<std::string>& extra = {}) {
    const auto dir = state_ / name;
    std::filesystem::create_directories(dir);
    dirs_.push_back(dir);
    std::vector<std::string> args = {
        "--sink",           "durable", "--redis-url",        redis_url_,
        "--postgres-url",   db_url_,   "--stream",           stream_,
        "--host-id",        host_id,   "--docker-host",      docker_host,
        "--lease-ttl",      "3s",      "--inspect-interval", "1s",
        "--probe-interval", "300ms",   "--start-grace",      "0s",
        "--api-listen",     ""};
    args.insert(args.end(), extra.begin(), extra.end());  // a flag given twice takes the last
    auto d = std::make_unique<Daemon>(label_, dir, std::vector<std::string>{}, args);
    auto& ref = *d;
    daemons_[name] = std::move(d);
    return ref;
  }
  void forget(const std::string& name) { daemons_.erase(name); }

  // The status runtime_hosts gives each of host's daemons, by state dir name order of start.
  std::vector<std::string> statuses(const std::string& host_id) {
    std::vector<std::string> out;
    for (const auto& r : sql(db_url_, "SELECT status FROM runtime_hosts WHERE host_id = '" +
                                          host_id + "' ORDER BY started_at")) {
      out.push_back(r[0]);
    }
    return out;
  }
  std::int64_t epoch(const std::string& host_id) {
    auto rows = sql(db_url_, "SELECT epoch FROM host_leases WHERE host_id = '" + host_id + "'");
    return rows.empty() ? 0 : std::stoll(rows[0][0]);
  }
  // Polls PostgreSQL until `done` holds (a wait on real services, not a timing assertion).
  template <class Pred>
  void wait_db(Pred done, std::chrono::seconds deadline, const std::string& what) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      try {
        if (done()) {
          return;
        }
      } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): the schema may be new
      }
      std::this_thread::sleep_for(200ms);
    }
    std::string logs;
    for (auto& [name, d] : daemons_) {
      logs += "--- " + name + ":\n" + d->logs();
    }
    ADD_FAILURE() << "timed out waiting for " << what << "\n" << logs;
  }

  static void expect_each_once(const std::vector<Entry>& entries) {
    std::set<std::string> seen;
    for (const auto& en : entries) {
      EXPECT_TRUE(seen.insert(contract::encode_payload(en.event)).second)
          << "duplicate entry " << en.id << ": " << contract::encode_payload(en.event);
    }
  }
  static std::vector<contract::Details> life_of(const std::vector<Entry>& entries,
                                                const std::string& id) {
    std::vector<contract::Details> out;
    for (const auto& en : entries) {
      if (en.event.container_id == id && en.event.type() != EventType::inspect_unhealthy) {
        out.push_back(en.event.details);
      }
    }
    return out;
  }
  std::string snapshot_host(const std::string& game) {
    auto rows = sql(db_url_, "SELECT host_id FROM health_snapshots WHERE game_id = '" + game + "'");
    return rows.empty() ? "(none)" : rows[0][0];
  }

  // Host A's daemon "one" active, "two" its standby, and one engine (game-1) whose start has
  // reached the stream; returns that engine's container id.
  std::string active_and_standby_with_one_engine() {
    start("one", "host-a", host_a_);
    wait_db([&] { return statuses("host-a") == std::vector<std::string>{"active"}; }, 30s,
            "the first daemon active");
    start("two", "host-a", host_a_);
    wait_db(
        [&] {
          return statuses("host-a") == std::vector<std::string>{"active", "standby"};
        },
        30s, "the second daemon standby");
    auto c1 = run_on(host_a_, "game-1");
    wait_stream([&](const auto& es) { return has(es, c1, EventType::container_started); }, 60s,
                "c1's start");
    return c1;
  }

  std::string host_a_;
  std::string host_b_;
  std::map<std::string, std::unique_ptr<Daemon>> daemons_;
  std::vector<std::filesystem::path> dirs_;
};

TEST_F(FleetTest, TwoHostsReportTheirOwnEventsOnceAndRestartsRaiseNoFalseDisappearance) {
  start("a", "host-a", host_a_);
  start("b", "host-b", host_b_);
  wait_db(
      [&] {
        return statuses("host-a") == std::vector<std::string>{"active"} &&
               statuses("host-b") == std::vector<std::string>{"active"};
      },
      30s, "both hosts active");
  const auto ca = run_on(host_a_, "game-a");
  const auto cb = run_on(host_b_, "game-b");
  wait_stream(
      [&](const auto& es) {
        return has(es, ca, EventType::container_started) &&
               has(es, cb, EventType::container_started);
      },
      60s, "both starts");

  // Host A's daemon restarts cleanly (its memory holds only A's containers now), host B's is
  // SIGKILLed and restarted; each host changes meanwhile.
  daemons_["a"]->stop();
  forget("a");
  const auto ca2 = run_on(host_a_, "game-a2", {"--exit-code", "5", "--exit-after-ms", "1500"});
  start("a", "host-a", host_a_);
  daemons_["b"]->kill9();
  forget("b");
  docker_on(host_b_, {"kill", cb});
  start("b", "host-b", host_b_);
  auto entries = wait_stream(
      [&](const auto& es) {
        return has(es, ca2, EventType::container_exited) &&
               has(es, cb, EventType::container_exited);
      },
      90s, "a2's exit and b's kill after the restarts");
  std::this_thread::sleep_for(4s);  // inspect rounds of both hosts, then read it all
  entries = read_stream();

  expect_each_once(entries);
  for (const auto& en : entries) {
    EXPECT_NE(en.event.type(), EventType::container_disappeared)
        << "no host may take another's containers for gone: " << contract::encode_payload(en.event);
  }
  EXPECT_EQ(life_of(entries, ca), std::vector<contract::Details>{started()});
  EXPECT_EQ(life_of(entries, ca2),
            (std::vector<contract::Details>{started(), contract::ContainerExited{5, false}}));
  EXPECT_EQ(life_of(entries, cb),
            (std::vector<contract::Details>{started(), contract::ContainerExited{137, false}}));
  EXPECT_EQ(snapshot_host("game-a"), "host-a");
  EXPECT_EQ(snapshot_host("game-a2"), "host-a");
  EXPECT_EQ(snapshot_host("game-b"), "host-b");
  EXPECT_EQ(sql(db_url_,
                "SELECT count(*) FROM runtime_state WHERE host_id = 'host-b' AND "
                "key LIKE 'container/" +
                    ca.substr(0, 12) + "%'")[0][0],
            "0")
      << "host A's container is in no other host's memory";
  EXPECT_EQ(sql(db_url_, "SELECT count(*) FROM runtime_state WHERE host_id = ''")[0][0], "0");
}

TEST_F(FleetTest, TheStandbyTakesOverWhenTheActiveIsKilledAndNothingIsLost) {
  const auto c1 = active_and_standby_with_one_engine();
  const auto first_epoch = epoch("host-a");

  daemons_["one"]->kill9();
  // While nobody is active: a start and an exit the standby must find when it takes over.
  const auto c2 = run_on(host_a_, "game-2", {"--exit-code", "7", "--exit-after-ms", "500"});
  docker_on(host_a_, {"kill", c1});
  auto entries = wait_stream(
      [&](const auto& es) {
        return has(es, c2, EventType::container_exited) && has(es, c1, EventType::container_exited);
      },
      60s, "the changes made while the active daemon was dead");
  std::this_thread::sleep_for(3s);
  entries = read_stream();

  expect_each_once(entries);
  EXPECT_EQ(life_of(entries, c1),
            (std::vector<contract::Details>{started(), contract::ContainerExited{137, false}}));
  EXPECT_EQ(life_of(entries, c2),
            (std::vector<contract::Details>{started(), contract::ContainerExited{7, false}}));
  EXPECT_EQ(epoch("host-a"), first_epoch + 1) << "one takeover";
  EXPECT_EQ(statuses("host-a"), (std::vector<std::string>{"lost", "active"}));
  daemons_["two"]->stop();
  EXPECT_EQ(statuses("host-a"), (std::vector<std::string>{"lost", "left"}));
  EXPECT_EQ(sql(db_url_, "SELECT holder FROM host_leases WHERE host_id = 'host-a'")[0][0], "")
      << "a clean stop releases the lease";
}

TEST_F(FleetTest, AnActiveFrozenPastItsLeaseWritesNothingWhenItWakesAndStepsDown) {
  const auto c1 = active_and_standby_with_one_engine();
  const auto first_epoch = epoch("host-a");

  // Frozen: it keeps its Docker connection and its memory, and cannot renew.
  daemons_["one"]->send(SIGSTOP);
  const auto c2 = run_on(host_a_, "game-2", {"--exit-code", "2", "--exit-after-ms", "500"});
  wait_db([&] { return epoch("host-a") == first_epoch + 1; }, 30s, "the standby's takeover");
  const auto c3 = run_on(host_a_, "game-3");
  wait_stream(
      [&](const auto& es) {
        return has(es, c2, EventType::container_exited) &&
               has(es, c3, EventType::container_started);
      },
      60s, "the new active daemon to report c2 and c3");

  // It wakes with events of c2 and c3 in its socket and its queue: none may be written.
  daemons_["one"]->send(SIGCONT);
  docker_on(host_a_, {"kill", c3});
  const auto c4 = run_on(host_a_, "game-4", {"--exit-code", "4", "--exit-after-ms", "500"});
  wait_db(
      [&] {
        return statuses("host-a") == std::vector<std::string>{"standby", "active"};
      },
      30s, "the woken daemon to step down");
  auto entries = wait_stream(
      [&](const auto& es) {
        return has(es, c4, EventType::container_exited) && has(es, c3, EventType::container_exited);
      },
      60s, "c3's kill and c4's exit");
  std::this_thread::sleep_for(4s);  // time for the woken daemon to try whatever it holds
  entries = read_stream();

  expect_each_once(entries);
  EXPECT_EQ(life_of(entries, c1), std::vector<contract::Details>{started()});
  EXPECT_EQ(life_of(entries, c2),
            (std::vector<contract::Details>{started(), contract::ContainerExited{2, false}}));
  EXPECT_EQ(life_of(entries, c3),
            (std::vector<contract::Details>{started(), contract::ContainerExited{137, false}}));
  EXPECT_EQ(life_of(entries, c4),
            (std::vector<contract::Details>{started(), contract::ContainerExited{4, false}}));
  EXPECT_EQ(epoch("host-a"), first_epoch + 1) << "the woken daemon did not take the lease back";
}

TEST_F(FleetTest, RowsOfAHostGoneForGoodAreRelayedByAnotherHostsDaemon) {
  // Host "gone" commits but cannot relay (its Redis address answers nothing), then dies for good.
  start("gone", "host-gone", host_a_,
        {"--redis-url", "redis://127.0.0.1:" + std::to_string(ts::free_port())});
  const auto c = run_on(host_a_, "game-gone", {"--exit-code", "6", "--exit-after-ms", "500"});
  wait_db(
      [&] {
        return sql(db_url_,
                   "SELECT count(*) FROM health_outbox WHERE host_id = "
                   "'host-gone'")[0][0] == "2";
      },
      60s, "the gone host's start and exit committed");
  daemons_["gone"]->kill9();
  forget("gone");

  start("b", "host-b", host_b_, {"--adopt-after", "6s"});
  auto entries =
      wait_stream([&](const auto& es) { return has(es, c, EventType::container_exited); }, 90s,
                  "the gone host's rows, relayed by host b's daemon");
  std::this_thread::sleep_for(2s);
  entries = read_stream();
  expect_each_once(entries);
  EXPECT_EQ(life_of(entries, c),
            (std::vector<contract::Details>{started(), contract::ContainerExited{6, false}}));
  EXPECT_EQ(sql(db_url_, "SELECT count(*) FROM health_outbox")[0][0], "0");
  EXPECT_EQ(snapshot_host("game-gone"), "host-gone") << "relayed for it, still its host's game";
  const auto lease = sql(db_url_,
                         "SELECT holder, epoch, lease_until < now() FROM host_leases "
                         "WHERE host_id = 'host-gone'");
  ASSERT_EQ(lease.size(), 1U);
  EXPECT_EQ(lease[0][0].rfind("adopted-by:", 0), 0U) << lease[0][0];
  EXPECT_EQ(lease[0][1], "2")
      << "the adoption took the lease: a woken daemon of host-gone is fenced";
  EXPECT_EQ(lease[0][2], "t") << "and left it lapsed for the host's own daemon to take back";
}

// The single-host release's schema (0001 only) with its memory and an outbox row that was added
// to the stream but not yet confirmed: the first fleet daemon adopts both, replays nothing and
// loses nothing.
TEST_F(FleetTest, AnUpgradeFromTheSingleHostSchemaAdoptsItsMemoryAndReplaysNothing) {
  // The memory of a daemon that saw container x start: made by running one on a scratch
  // database and stream, then copied into a database of the old schema.
  const std::string scratch_db = db_ + "_scratch";
  const std::string scratch_url = ts::with_database(admin_url_, scratch_db);
  sql(admin_url_, "DROP DATABASE IF EXISTS " + scratch_db + " WITH (FORCE)");
  sql(admin_url_, "CREATE DATABASE " + scratch_db);
  const std::string real_url = db_url_;
  const std::string real_stream = stream_;
  db_url_ = scratch_url;
  stream_ = real_stream + ":scratch";
  start("scratch", "host-old", host_a_);
  const auto x = run_on(host_a_, "game-x");
  wait_stream([&](const auto& es) { return has(es, x, EventType::container_started); }, 60s,
              "x's start on the scratch run");
  daemons_["scratch"]->stop();
  forget("scratch");
  const auto memory =
      sql(scratch_url, "SELECT key, value::text FROM runtime_state WHERE host_id = 'host-old'");
  ASSERT_FALSE(memory.empty());
  drop_stream();
  db_url_ = real_url;
  stream_ = real_stream;
  sql(admin_url_, "DROP DATABASE IF EXISTS " + scratch_db + " WITH (FORCE)");

  std::ifstream f(std::string(GALAXY_SOURCE_DIR) +
                  "/src/publish/migrations/0001_outbox_state_snapshots.sql");
  std::stringstream old_schema;
  old_schema << f.rdbuf();
  sql(db_url_, old_schema.str());
  sql(db_url_,
      "CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL, "
      "applied_at timestamptz NOT NULL DEFAULT now())");
  sql(db_url_, "INSERT INTO schema_migrations VALUES (1, '0001_outbox_state_snapshots.sql')");
  for (const auto& r : memory) {
    sql(db_url_, "INSERT INTO runtime_state (key, value) VALUES ('" + r[0] + "', '" + r[1] + "')");
  }
  // Two outbox rows: seq 7 already in the stream (the old relay died before confirming it), seq 8
  // not yet.
  const Event seven{"game-old", "old-container-7", now_ms(), contract::ProbeFailed{3, 500, ""}};
  const Event eight{"game-old", "old-container-7", now_ms() + 1, contract::ProbeRecovered{2}};
  for (const auto& [seq, e] : {std::pair{7, seven}, std::pair{8, eight}}) {
    sql(db_url_, "INSERT INTO health_outbox (seq, game_id, occurred_at_ms, payload) VALUES (" +
                     std::to_string(seq) + ", 'game-old', " + std::to_string(e.occurred_at_ms) +
                     ", '" + contract::encode_payload(e) + "')");
  }
  sql(db_url_, "UPDATE publish_counter SET last_seq = 8");
  const std::string identity = sql(db_url_, "SELECT epoch FROM publish_identity")[0][0];
  std::vector<std::string> xadd = {"XADD", stream_, "*"};
  for (const auto& fld : contract::encode_entry(seven)) {
    xadd.push_back(fld.name);
    xadd.push_back(fld.value);
  }
  redis(xadd);
  redis({"HSET", stream_ + ":hwm", "epoch", identity, "seq", "7"});

  start("new", "host-new", host_a_);
  wait_stream(
      [&](const auto& es) {
        return std::any_of(es.begin(), es.end(),
                           [&](const Entry& en) { return en.event == eight; });
      },
      60s, "the adopted row 8");
  docker_on(host_a_, {"kill", x});
  auto entries =
      wait_stream([&](const auto& es) { return has(es, x, EventType::container_exited); }, 60s,
                  "x's exit after the upgrade");
  std::this_thread::sleep_for(3s);
  entries = read_stream();
  redis({"DEL", stream_ + ":hwm"});

  expect_each_once(entries);
  EXPECT_EQ(std::count_if(entries.begin(), entries.end(),
                          [&](const Entry& en) { return en.event == seven; }),
            1)
      << "row 7 was in the stream already";
  EXPECT_EQ(life_of(entries, x),
            (std::vector<contract::Details>{contract::ContainerExited{137, false}}))
      << "x's start was reported before the upgrade: the adopted memory says so";
  EXPECT_EQ(sql(db_url_, "SELECT count(*) FROM runtime_state WHERE host_id = ''")[0][0], "0");
  EXPECT_EQ(sql(db_url_, "SELECT count(*) FROM health_outbox")[0][0], "0");
  EXPECT_EQ(snapshot_host("game-old"), "host-new");
  EXPECT_EQ(sql(db_url_, "SELECT legacy_seq IS NULL FROM host_leases WHERE host_id = 'host-new'")
                .at(0)
                .at(0),
            "t");
}

}  // namespace
