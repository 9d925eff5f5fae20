// Shared by the durable end-to-end tests: a daemon fixture on the durable sink with a private
// database and stream, and readers of what the daemon wrote to them.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "daemon.hpp"
#include "galaxy/testsupport/backends.hpp"

namespace galaxy::apptest {

struct Entry {
  std::string id;
  Event event;
};

class DurableTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    services_state_ = ts::require_env("GALAXY_STATE_DIR");
    redis_url_ = ts::require_env("GALAXY_REDIS_URL");
    const std::string pg_url = ts::require_env("GALAXY_POSTGRES_URL");
    stream_ = "itest:" + std::to_string(::getpid()) + ":durable";
    db_ = "rm_itest_" + std::to_string(::getpid());
    admin_url_ = pg_url;
    db_url_ = ts::with_database(pg_url, db_);
    sql(admin_url_, "DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
    sql(admin_url_, "CREATE DATABASE " + db_);
    drop_stream();
  }
  void TearDown() override {
    DaemonTest::TearDown();
    sql(admin_url_, "DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
    drop_stream();
  }
  // The stream and its per-host side keys ({stream}:hwm:<host>, {stream}:idmp:<host>).
  void drop_stream() {
    const std::string script =
        "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end "
        "return redis.call('DEL', ARGV[2])";
    redis({"EVAL", script, "0", "{" + stream_ + "}:*", stream_});
  }

  std::vector<std::string> sink_args() override {
    return {"--sink", "durable", "--redis-url", ts::require_env("GALAXY_REDIS_URL"),
            "--postgres-url", db_url_, "--stream", stream_, "--host-id", host_id(),
            // The engine API is on by default at STATE_DIR/api.sock, too long a path for a
            // socket under these tests' state dirs; the engines test gives its own.
            "--api-listen", ""};
  }

  void services(const std::string& verb, const std::string& which) {
    auto r = ts::run({std::string(GALAXY_SOURCE_DIR) + "/scripts/services", verb, which, "--state",
                      services_state_},
                     120s);
    ASSERT_EQ(r.exit_code, 0) << verb << " " << which << ": " << r.output;
  }

  static ts::SqlRows sql(const std::string& url, const std::string& q) { return ts::sql(url, q); }

  void redis(const std::vector<std::string>& args) const {
    (void)ts::redis_command(redis_url_, args);
  }

  std::vector<Entry> read_stream() {
    std::vector<Entry> out;
    for (const auto& [id, fields] : ts::read_stream(redis_url_, stream_)) {
      auto ev = contract::decode_entry(fields);
      EXPECT_TRUE(ev) << "entry " << id << ": " << ev.error().message();
      if (ev) {
        out.push_back({id, *ev});
      }
    }
    return out;
  }

  // Polls the stream until `done` holds (a wait on real services, not a timing assertion).
  template <class Pred>
  std::vector<Entry> wait_stream(Pred done, std::chrono::seconds deadline, const char* what) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    std::vector<Entry> entries;
    while (std::chrono::steady_clock::now() < until) {
      try {
        entries = read_stream();
      } catch (const std::exception&) {
        entries.clear();  // Redis restarting
      }
      if (done(entries)) {
        return entries;
      }
      std::this_thread::sleep_for(250ms);
    }
    ADD_FAILURE() << "timed out waiting for " << what;
    return entries;
  }

  static bool has(const std::vector<Entry>& es, const std::string& id, EventType t) {
    return std::any_of(es.begin(), es.end(), [&](const Entry& e) {
      return e.event.container_id == id && e.event.type() == t;
    });
  }

  std::string services_state_;
  std::string redis_url_;
  std::string stream_;
  static std::string host_id() { return "itest-host-" + std::to_string(::getpid()); }
  std::string db_;
  std::string admin_url_;
  std::string db_url_;
};

}  // namespace galaxy::apptest
