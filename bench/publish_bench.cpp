// End-to-end throughput of the durable path: transitions into DurableSink until every event is
// committed in PostgreSQL and relayed to the Redis Stream (outbox empty), against the services
// in GALAXY_REDIS_URL / GALAXY_POSTGRES_URL. Uses a fresh database and stream key, removed after.
//
//   publish_bench [events=50000] [events_per_transition=1] [max_batch=2000]
#include <unistd.h>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "galaxy/pg/conn.hpp"
#include "galaxy/publish/durable_sink.hpp"
#include "galaxy/publish/host_lease.hpp"
#include "galaxy/redis/connection.hpp"

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): before any thread
  if (v == nullptr) {
    throw std::runtime_error(std::string(name) + " is not set (source the services env)");
  }
  return v;
}

// One statement on a fresh connection (CREATE/DROP DATABASE cannot run in a pipeline, so by the
// simple protocol).
void pg_exec(const std::string& url, const std::string& sql) {
  auto c = galaxy::pg::Conn::open(galaxy::pg::parse_target(url).value(), std::chrono::seconds(60));
  if (!c) {
    throw std::runtime_error(c.error().message());
  }
  if (auto r = c->simple(sql, c->deadline()); !r) {
    throw std::runtime_error(sql + ": " + r.error().message());
  }
}

std::int64_t pg_count(const std::string& url, const std::string& sql) {
  auto c = galaxy::pg::Conn::open(galaxy::pg::parse_target(url).value(), std::chrono::seconds(60));
  if (!c) {
    throw std::runtime_error(c.error().message());
  }
  auto r = c->query({sql, {}});
  if (!r) {
    throw std::runtime_error(sql + ": " + r.error().message());
  }
  return r->integer(0, 0).value();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace galaxy;
  using Clock = std::chrono::steady_clock;
  const long events = argc > 1 ? std::atol(argv[1]) : 50'000;
  const long per = argc > 2 ? std::atol(argv[2]) : 1;
  const long max_batch = argc > 3 ? std::atol(argv[3]) : 2'000;
  // With replicas (a Sentinel or Cluster URL in GALAXY_REDIS_URL): WAIT for this many after each
  // relayed batch, as --redis-wait-replicas does.
  const int wait_replicas = argc > 4 ? std::atoi(argv[4]) : 0;
  const std::string admin = env("GALAXY_POSTGRES_URL");
  const std::string redis = env("GALAXY_REDIS_URL");
  const std::string db = "bench_pub_" + std::to_string(::getpid());
  const std::string stream = "bench:publish:" + std::to_string(::getpid());
  pg_exec(admin, "CREATE DATABASE " + db);
  boost::urls::url u(boost::urls::parse_uri(admin).value());
  u.set_path("/" + db);
  const std::string pg_url(u.buffer());

  publish::DurableSinkSettings s;
  // One host writing as fast as it can: its lease taken once, for the length of the run.
  auto lease =
      publish::take_lease(pg::parse_target(pg_url).value(),
                          {"bench-host", "bench-daemon", "bench", "bench"}, std::chrono::hours(1));
  if (!lease) {
    std::fprintf(stderr, "%s\n", lease.error().message().c_str());
    return 1;
  }
  s.fence = {"bench-host", lease->epoch};
  s.redis_url = redis;
  s.postgres_url = pg_url;
  s.stream = stream;
  s.queue_capacity = static_cast<std::size_t>(events) + 1;
  s.max_batch = static_cast<std::size_t>(max_batch);
  s.relay_batch = static_cast<std::size_t>(max_batch);
  s.wait_replicas = wait_replicas;
  double commit_s = 0;
  double total_s = 0;
  {
    publish::DurableSink sink(s);
    // Connects and migrates before the clock starts.
    if (auto st = sink.load_state(std::chrono::seconds(30)); !st) {
      std::fprintf(stderr, "%s\n", st.error().message().c_str());
      return 1;
    }
    sink.start();
    const auto t0 = Clock::now();
    for (long i = 0; i < events;) {
      contract::Transition t;
      for (long j = 0; j < per && i < events; ++j, ++i) {
        t.events.push_back({"game-" + std::to_string(i % 500), "c" + std::to_string(i % 500),
                            1'775'000'000'000 + i,
                            contract::ProbeFailed{3, 0, "context deadline exceeded"}});
      }
      t.state.push_back({"cursor", "{\"since\":" + std::to_string(i) + "}"});
      sink.apply(std::move(t));
    }
    while (sink.stats().events_committed < static_cast<std::uint64_t>(events)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    commit_s = std::chrono::duration<double>(Clock::now() - t0).count();
    while (sink.stats().events_relayed < static_cast<std::uint64_t>(events) ||
           pg_count(pg_url, "SELECT count(*) FROM health_outbox") != 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    total_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto st = sink.stats();
    std::printf(
        "events=%ld per_transition=%ld max_batch=%ld wait_replicas=%d batches=%llu "
        "wait_shortfalls=%llu\n"
        "committed to PostgreSQL: %.0f events/s (%.2f s)\n"
        "committed + relayed to Redis + snapshots: %.0f events/s (%.2f s)\n",
        events, per, max_batch, wait_replicas, static_cast<unsigned long long>(st.batches),
        static_cast<unsigned long long>(st.wait_shortfalls), static_cast<double>(events) / commit_s,
        commit_s, static_cast<double>(events) / total_s, total_s);
    sink.stop(std::chrono::seconds(5));
  }
  pg_exec(admin, "DROP DATABASE " + db + " WITH (FORCE)");
  if (auto c = redis::Connection::open(parse_redis_url(redis).value(), std::chrono::seconds(5),
                                       std::chrono::seconds(30), stream)) {
    (void)c->command(
        {"DEL", stream, "{" + stream + "}:hwm:bench-host", "{" + stream + "}:idmp:bench-host"});
  }
  return 0;
}
