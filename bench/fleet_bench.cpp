// A fleet of N simulated hosts in one process, writing into one PostgreSQL database and one Redis
// stream (the harness services of GALAXY_POSTGRES_URL / GALAXY_REDIS_URL): each host is its own
// DurableSink (its own lease epoch, writer connection, relay connection, outbox seq and Redis
// dedupe keys), fed by its own producer thread. Events really go the whole way: committed to
// health_outbox, relayed to the stream, snapshotted, deleted from the outbox; the run checks that
// the stream holds every event exactly once at the end.
//
// Commit latency, per host: from the moment an event's transition is handed to apply() (paced
// mode: the moment it was due) to the moment PgOutbox::commit() of the batch holding it returned
// success on the sink's writer thread (PostgreSQL acknowledged the COMMIT). It is measured by a
// thin OutboxStore wrapper around the real PgOutbox (the DurableBackends seam): the sink's own
// writer and relay code run unchanged. It includes the wait in the sink's queue behind the batch
// being committed, as the daemon's events do.
//
// Load: "as fast as they can" is a closed loop: each host keeps at most --window transitions in
// flight (applied, not yet committed) and applies the next one the moment one commits. With
// --rate R each host instead applies R transitions a second on a fixed schedule (open loop), the
// hosts' schedules spread evenly over one period.
//
//   fleet_bench [--hosts 1,10,50] [--seconds 15] [--warmup 3] [--window 1] [--rate 0]
//               [--events-per-transition 1] [--games 20] [--json FILE]
//
// Exit status: 0 when every size ran and its events all reached the stream once, 1 otherwise.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "galaxy/pg/conn.hpp"
#include "galaxy/publish/durable_sink.hpp"
#include "galaxy/publish/host_lease.hpp"
#include "galaxy/publish/pg_outbox.hpp"
#include "galaxy/redis/connection.hpp"
#include "galaxy/redis/reply.hpp"

namespace {

using namespace galaxy;
using Clock = std::chrono::steady_clock;

std::string env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): before any thread
  if (v == nullptr) {
    throw std::runtime_error(std::string(name) + " is not set (source the services env)");
  }
  return v;
}

pg::Conn pg_open(const std::string& url) {
  auto c = pg::Conn::open(pg::parse_target(url).value(), std::chrono::seconds(60));
  if (!c) {
    throw std::runtime_error(c.error().message());
  }
  return std::move(*c);
}

// One statement by the simple protocol (CREATE/DROP DATABASE cannot run in a pipeline).
void pg_exec(const std::string& url, const std::string& sql) {
  auto c = pg_open(url);
  if (auto r = c.simple(sql, c.deadline()); !r) {
    throw std::runtime_error(sql + ": " + r.error().message());
  }
}

std::int64_t pg_int(const std::string& url, const std::string& sql) {
  auto c = pg_open(url);
  auto r = c.query({sql, {}});
  if (!r) {
    throw std::runtime_error(sql + ": " + r.error().message());
  }
  return r->integer(0, 0).value();
}

double load1() {
  double l = -1;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) {
      l = -1;
    }
    std::fclose(f);
  }
  return l;
}

struct Pending {
  std::uint64_t through = 0;  // the host's applied event count once this transition is in
  Clock::time_point start;    // apply() (closed loop) or the due time (paced)
  bool measured = false;      // inside the measurement window
};

// One simulated host: its sink, its producer's bookkeeping and its latency samples.
struct Host {
  std::string id;
  std::unique_ptr<publish::DurableSink> sink;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> pending;  // applied, not yet committed, in apply order
  std::uint64_t applied = 0;    // events
  std::uint64_t committed = 0;  // events PgOutbox::commit acknowledged
  std::uint64_t commits = 0;    // successful commit() calls (batches)
  std::vector<double> latency_ms;
  std::thread producer;
};

// The real PgOutbox, with commit() timed: on success every transition the batch completed gets
// its sample. The sink commits in apply order, so the batch holds the oldest pending events.
class TimedOutbox final : public publish::OutboxStore {
 public:
  TimedOutbox(std::unique_ptr<publish::OutboxStore> inner, Host& host)
      : inner_(std::move(inner)), host_(host) {}
  Result<void> connect() override { return inner_->connect(); }
  bool connected() const override { return inner_->connected(); }
  void disconnect() override { inner_->disconnect(); }
  Result<void> commit(const publish::Batch& batch, const std::string& writer_id) override {
    auto r = inner_->commit(batch, writer_id);
    if (!r) {
      return r;
    }
    const auto now = Clock::now();
    {
      std::lock_guard lock(host_.mu);
      host_.committed += batch.events.size();
      ++host_.commits;
      while (!host_.pending.empty() && host_.pending.front().through <= host_.committed) {
        const Pending& p = host_.pending.front();
        if (p.measured) {
          host_.latency_ms.push_back(
              std::chrono::duration<double, std::milli>(now - p.start).count());
        }
        host_.pending.pop_front();
      }
    }
    host_.cv.notify_all();
    return r;
  }
  Result<std::vector<contract::StateRecord>> load_state() override { return inner_->load_state(); }
  Result<std::string> database_id() override { return inner_->database_id(); }
  Result<std::vector<publish::OutboxRow>> fetch(std::size_t limit) override {
    return inner_->fetch(limit);
  }
  Result<void> confirm(const std::vector<publish::RelayedRow>& rows,
                       std::int64_t through_seq) override {
    return inner_->confirm(rows, through_seq);
  }
  Result<std::optional<std::int64_t>> legacy_seq() override { return inner_->legacy_seq(); }
  Result<void> legacy_done() override { return inner_->legacy_done(); }
  Result<std::int64_t> seq_at_least(std::int64_t mark) override {
    return inner_->seq_at_least(mark);
  }

 private:
  std::unique_ptr<publish::OutboxStore> inner_;
  Host& host_;
};

struct Options {
  std::vector<int> hosts{1, 10, 50};
  double seconds = 15;
  double warmup = 3;
  int window = 1;
  double rate = 0;
  int per = 1;
  int games = 20;
  double drain_timeout = 300;
  std::string json;
};

double quantile(std::vector<double>& v, double q) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const auto i =
      static_cast<std::size_t>(std::max(0.0, std::ceil(static_cast<double>(v.size()) * q) - 1));
  return v[std::min(i, v.size() - 1)];
}

double median(std::vector<double> v) {
  return quantile(v, 0.5);
}

struct Row {
  int hosts = 0;
  double committed_per_s = 0;
  double relayed_per_s = 0;
  double p50_median = 0;
  double p99_median = 0;
  double p99_worst = 0;
  double p50_pooled = 0;
  double p99_pooled = 0;
  std::size_t samples = 0;
  double events_per_commit = 0;
  double drain_s = 0;
  bool drained = false;
  bool verified = false;
  std::int64_t xlen = 0;
  std::uint64_t total_events = 0;
  std::uint64_t errors = 0;
  double load_start = 0;
  double load_end = 0;
};

void produce(Host& h, int index, int hosts, const Options& o, Clock::time_point t0,
             Clock::time_point warm, Clock::time_point end, const std::atomic<bool>& stop) {
  const auto period =
      o.rate > 0
          ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o.rate))
          : Clock::duration::zero();
  std::uint64_t k = 0;
  std::uint64_t n = 0;  // events applied
  while (!stop.load()) {
    Clock::time_point start;
    if (o.rate > 0) {
      // Host i's schedule is offset by i/N of a period: independent hosts are not phase-locked
      // (all N due at the same instant would measure a burst of N commits, not a fleet).
      start = t0 + period * index / hosts + period * static_cast<std::int64_t>(k);
      std::this_thread::sleep_until(start);
      if (stop.load()) {
        break;
      }
    } else {
      std::unique_lock lock(h.mu);
      h.cv.wait(lock, [&] {
        return stop.load() || h.applied - h.committed < static_cast<std::uint64_t>(o.window) *
                                                            static_cast<std::uint64_t>(o.per);
      });
      if (stop.load()) {
        break;
      }
      start = Clock::now();
    }
    contract::Transition t;
    for (int j = 0; j < o.per; ++j, ++n) {
      const auto g = n % static_cast<std::uint64_t>(o.games);
      t.events.push_back({fmt::format("{}-game-{}", h.id, g), fmt::format("{}-c{}", h.id, g),
                          1'775'000'000'000 + static_cast<std::int64_t>(n),
                          contract::ProbeFailed{3, 0, "context deadline exceeded"}});
    }
    t.state.push_back({"cursor", fmt::format("{{\"since\":{},\"host\":{}}}", n, index)});
    {
      // Recorded before apply(): the writer may commit it before apply() returns.
      std::lock_guard lock(h.mu);
      h.applied += static_cast<std::uint64_t>(o.per);
      h.pending.push_back({h.applied, start, start >= warm && start < end});
    }
    h.sink->apply(std::move(t));
    ++k;
  }
}

Row run_size(int n, const Options& o, const std::string& admin, const std::string& redis_url) {
  Row row;
  row.hosts = n;
  const std::string tag = fmt::format("{}_{}", ::getpid(), n);
  const std::string db = "bench_fleet_" + tag;
  const std::string stream = "bench:fleet:" + tag;
  pg_exec(admin, "CREATE DATABASE " + db);
  boost::urls::url u(boost::urls::parse_uri(admin).value());
  u.set_path("/" + db);
  const std::string pg_url(u.buffer());
  const auto target = pg::parse_target(pg_url).value();

  std::vector<std::unique_ptr<Host>> hosts;
  for (int i = 0; i < n; ++i) {
    auto h = std::make_unique<Host>();
    h->id = fmt::format("fleet-h{:02d}", i);
    // Each host's lease taken once for the run (no renewal thread: 2 connections per host here,
    // where a daemon holds 3: writer, relay and its lease's).
    auto lease = publish::take_lease(
        target, {h->id, fmt::format("bench-daemon-{:02d}", i), "fleet-bench", "bench"},
        std::chrono::hours(1));
    if (!lease) {
      throw std::runtime_error("lease of " + h->id + ": " + lease.error().message());
    }
    publish::DurableSinkSettings s;
    s.fence = {h->id, lease->epoch};
    s.redis_url = redis_url;
    s.postgres_url = pg_url;
    s.stream = stream;
    s.queue_capacity = 10'000'000;
    // No trimming: the end check counts every event in the stream (the default MAXLEN ~ 1,000,000
    // is below what the batched loads write in one run).
    s.stream_maxlen = 1'000'000'000;
    publish::DurableBackends b;
    Host& ref = *h;
    b.outbox = [&ref, target, io = s.io_timeout](const publish::HostFence& fence) {
      return std::make_unique<TimedOutbox>(std::make_unique<publish::PgOutbox>(target, io, fence),
                                           ref);
    };
    h->sink = std::make_unique<publish::DurableSink>(s, std::move(b));
    // Connects and migrates before the clock starts.
    if (auto st = h->sink->load_state(std::chrono::seconds(30)); !st) {
      throw std::runtime_error(h->id + ": " + st.error().message());
    }
    hosts.push_back(std::move(h));
  }
  for (auto& h : hosts) {
    h->sink->start();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // relays connected

  row.load_start = load1();
  std::atomic<bool> stop{false};
  const auto t0 = Clock::now();
  const auto warm =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  const auto end =
      warm + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (int i = 0; i < n; ++i) {
    Host& h = *hosts[static_cast<std::size_t>(i)];
    h.producer = std::thread(
        [&h, i, n, &o, t0, warm, end, &stop] { produce(h, i, n, o, t0, warm, end, stop); });
  }
  const auto snapshot = [&](std::uint64_t& committed, std::uint64_t& relayed,
                            std::uint64_t& commits) {
    committed = relayed = commits = 0;
    for (auto& h : hosts) {
      {
        std::lock_guard lock(h->mu);
        committed += h->committed;
        commits += h->commits;
      }
      relayed += h->sink->stats().events_relayed;
    }
  };
  std::uint64_t c0 = 0;
  std::uint64_t r0 = 0;
  std::uint64_t b0 = 0;
  std::uint64_t c1 = 0;
  std::uint64_t r1 = 0;
  std::uint64_t b1 = 0;
  std::this_thread::sleep_until(warm);
  snapshot(c0, r0, b0);
  const auto m0 = Clock::now();
  std::this_thread::sleep_until(end);
  snapshot(c1, r1, b1);
  const double window = std::chrono::duration<double>(Clock::now() - m0).count();
  row.load_end = load1();
  stop.store(true);
  for (auto& h : hosts) {
    h->cv.notify_all();
  }
  for (auto& h : hosts) {
    h->producer.join();
  }
  row.committed_per_s = static_cast<double>(c1 - c0) / window;
  row.relayed_per_s = static_cast<double>(r1 - r0) / window;
  row.events_per_commit = b1 > b0 ? static_cast<double>(c1 - c0) / static_cast<double>(b1 - b0) : 0;

  // Drain: every applied event committed and relayed.
  const auto d0 = Clock::now();
  const auto drain_until = d0 + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(o.drain_timeout));
  for (;;) {
    bool all = true;
    for (auto& h : hosts) {
      std::uint64_t applied = 0;
      {
        std::lock_guard lock(h->mu);
        applied = h->applied;
      }
      const auto st = h->sink->stats();
      all = all && st.events_committed == applied && st.events_relayed == applied;
    }
    if (all || Clock::now() > drain_until) {
      row.drained = all;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  row.drain_s = std::chrono::duration<double>(Clock::now() - d0).count();

  std::vector<double> p50s;
  std::vector<double> p99s;
  std::vector<double> pooled;
  std::uint64_t relayed_total = 0;
  for (auto& h : hosts) {
    std::lock_guard lock(h->mu);
    row.total_events += h->applied;
    pooled.insert(pooled.end(), h->latency_ms.begin(), h->latency_ms.end());
    p50s.push_back(quantile(h->latency_ms, 0.5));
    p99s.push_back(quantile(h->latency_ms, 0.99));
    const auto st = h->sink->stats();
    relayed_total += st.events_relayed;
    row.errors += st.writer_errors + st.relay_errors + st.replays_skipped + st.dropped_events;
  }
  row.samples = pooled.size();
  row.p50_median = median(p50s);
  row.p99_median = median(p99s);
  row.p99_worst = *std::max_element(p99s.begin(), p99s.end());
  row.p50_pooled = quantile(pooled, 0.5);
  row.p99_pooled = quantile(pooled, 0.99);

  for (auto& h : hosts) {
    h->sink->stop(std::chrono::seconds(5));
  }
  // Exactly once, end to end: the stream holds every event applied, the outbox is empty and
  // each host's games have their snapshot.
  auto rc = redis::Connection::open(parse_redis_url(redis_url).value(), std::chrono::seconds(5),
                                    std::chrono::seconds(30));
  if (!rc) {
    throw std::runtime_error(rc.error().message());
  }
  if (auto x = rc->command({"XLEN", stream})) {
    row.xlen = redis::integer(x->get()).value_or(-1);
  }
  const auto outbox = pg_int(pg_url, "SELECT count(*) FROM health_outbox");
  const auto snaps = pg_int(pg_url, "SELECT count(*) FROM health_snapshots");
  const auto expect_snaps =
      static_cast<std::int64_t>(n) *
      std::min<std::int64_t>(o.games, static_cast<std::int64_t>(row.total_events / n));
  row.verified = row.drained && row.errors == 0 && relayed_total == row.total_events &&
                 row.xlen == static_cast<std::int64_t>(row.total_events) && outbox == 0 &&
                 snaps == expect_snaps;
  if (!row.verified) {
    std::fprintf(stderr,
                 "fleet_bench: %d hosts: NOT VERIFIED: applied %llu, relayed %llu, XLEN %lld, "
                 "outbox %lld, snapshots %lld (expected %lld), errors/replays/drops %llu, "
                 "drained %d\n",
                 n, static_cast<unsigned long long>(row.total_events),
                 static_cast<unsigned long long>(relayed_total), static_cast<long long>(row.xlen),
                 static_cast<long long>(outbox), static_cast<long long>(snaps),
                 static_cast<long long>(expect_snaps), static_cast<unsigned long long>(row.errors),
                 row.drained ? 1 : 0);
  }
  hosts.clear();
  pg_exec(admin, "DROP DATABASE " + db + " WITH (FORCE)");
  std::vector<std::string> del{"DEL", stream};
  for (int i = 0; i < n; ++i) {
    const auto id = fmt::format("fleet-h{:02d}", i);
    del.push_back(fmt::format("{{{}}}:hwm:{}", stream, id));
    del.push_back(fmt::format("{{{}}}:idmp:{}", stream, id));
  }
  (void)rc->command(std::span<const std::string>(del));
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"fleet_bench: N simulated hosts into one Redis and one PostgreSQL"};
  app.add_option("--hosts", o.hosts, "Fleet sizes to run, in order")->delimiter(',');
  app.add_option("--seconds", o.seconds, "Measurement window per size");
  app.add_option("--warmup", o.warmup, "Load before the window (connections, caches)");
  app.add_option("--window", o.window, "Closed loop: transitions in flight per host")
      ->check(CLI::Range(1, 100'000));
  app.add_option("--rate", o.rate, "Transitions per second per host (0: as fast as they can)");
  app.add_option("--events-per-transition", o.per)->check(CLI::Range(1, 10'000));
  app.add_option("--games", o.games, "Games per host (snapshot rows)")
      ->check(CLI::Range(1, 100'000));
  app.add_option("--drain-timeout", o.drain_timeout, "Seconds to wait for the relays to finish");
  app.add_option("--json", o.json, "Append one JSON object per size to FILE");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);  // the sinks' connect lines, 3 per host

  try {
    const std::string admin = env("GALAXY_POSTGRES_URL");
    const std::string redis_url = env("GALAXY_REDIS_URL");
    const auto max_conn =
        pg_int(admin, "SELECT setting::bigint FROM pg_settings WHERE name = 'max_connections'");
    const int largest = *std::max_element(o.hosts.begin(), o.hosts.end());
    // Two per host held for the run (writer, relay), one more while a host's lease and state
    // are taken, and a few for this program and the harness.
    if (2 * static_cast<std::int64_t>(largest) + 5 > max_conn) {
      std::fprintf(stderr,
                   "fleet_bench: %d hosts need %d PostgreSQL connections, the server allows %lld "
                   "(max_connections)\n",
                   largest, 2 * largest + 5, static_cast<long long>(max_conn));
      return 1;
    }
    const std::string mode =
        o.rate > 0
            ? fmt::format("paced, {:g} transitions/s per host", o.rate)
            : fmt::format("as fast as they can, {} transition(s) in flight per host", o.window);
    std::printf("fleet_bench: %s, %d event(s) per transition, %g s window after %g s warm-up\n",
                mode.c_str(), o.per, o.seconds, o.warmup);
    std::printf(
        "commit latency: apply()%s -> PgOutbox::commit returned (PostgreSQL COMMIT "
        "acknowledged), per transition, on the sink's own writer\n",
        o.rate > 0 ? " due time" : "");
    std::printf("%6s %14s %14s %12s %12s %12s %12s %10s %8s %9s %s\n", "hosts", "committed/s",
                "relayed/s", "p50 med ms", "p99 med ms", "p99 worst", "p99 pooled", "ev/commit",
                "drain s", "load", "verified");
    std::fflush(stdout);
    bool ok = true;
    std::vector<Row> rows;
    for (const int n : o.hosts) {
      const Row r = run_size(n, o, admin, redis_url);
      rows.push_back(r);
      ok = ok && r.verified;
      std::printf("%6d %14.0f %14.0f %12.2f %12.2f %12.2f %12.2f %10.1f %8.2f %4.2f/%4.2f %s\n",
                  r.hosts, r.committed_per_s, r.relayed_per_s, r.p50_median, r.p99_median,
                  r.p99_worst, r.p99_pooled, r.events_per_commit, r.drain_s, r.load_start,
                  r.load_end, r.verified ? "yes" : "NO");
      std::fflush(stdout);
      if (!o.json.empty()) {
        std::ofstream out(o.json, std::ios::app);
        out << fmt::format(
            "{{\"hosts\":{},\"mode\":\"{}\",\"window\":{},\"rate\":{},\"events_per_transition\":{},"
            "\"seconds\":{},\"committed_per_s\":{:.1f},\"relayed_per_s\":{:.1f},"
            "\"p50_median_ms\":{:.3f},\"p99_median_ms\":{:.3f},\"p99_worst_ms\":{:.3f},"
            "\"p50_pooled_ms\":{:.3f},\"p99_pooled_ms\":{:.3f},\"samples\":{},"
            "\"events_per_commit\":{:.2f},\"drain_s\":{:.3f},\"events\":{},\"xlen\":{},"
            "\"verified\":{},\"load1_start\":{},\"load1_end\":{}}}\n",
            r.hosts, o.rate > 0 ? "paced" : "saturated", o.window, o.rate, o.per, o.seconds,
            r.committed_per_s, r.relayed_per_s, r.p50_median, r.p99_median, r.p99_worst,
            r.p50_pooled, r.p99_pooled, r.samples, r.events_per_commit, r.drain_s, r.total_events,
            r.xlen, r.verified ? "true" : "false", r.load_start, r.load_end);
      }
    }
    if (rows.size() > 1 && rows.front().hosts == 1) {
      const Row& one = rows.front();
      const Row& big = rows.back();
      std::printf(
          "goals (%d hosts vs 1): aggregate committed %.2fx the 1-host rate (goal >= 1); median "
          "host p99 %.2fx, worst host p99 %.2fx the 1-host p99 (goal <= 2)\n",
          big.hosts, big.committed_per_s / one.committed_per_s, big.p99_median / one.p99_median,
          big.p99_worst / one.p99_median);
    }
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fleet_bench: %s\n", e.what());
    return 1;
  }
}
