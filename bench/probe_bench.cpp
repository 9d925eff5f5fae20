// probe_bench: our prober (galaxy::probe::ProbeScheduler, one io_context on this thread) against
// N loopback /healthz targets, measured over a fixed window after a warm-up. Prints one JSON
// object.
//
// Targets are consecutive IPv4 loopback addresses (127.1.0.0, 127.1.0.1, ...) on one port: the
// kernel routes all of 127/8 to lo, so one listening server stands in for N containers, and every
// target has its own 4-tuple space (connection-close at 10,000 probes/s would otherwise run out of
// ephemeral ports to a single address within seconds).
//
// With --via HOST:PORT the same schedule drives another prober instead: every target becomes the
// request "GET /probe?target=IP:PORT/healthz&module=http_2xx" to HOST:PORT (Prometheus
// blackbox_exporter), and --watch-pid measures that process's CPU over the same window.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <variant>

#include "galaxy/admin/process.hpp"
#include "galaxy/common/clock.hpp"
#include "galaxy/common/duration.hpp"
#include "galaxy/probe/scheduler.hpp"

namespace {

namespace asio = boost::asio;
using galaxy::probe::ProbeSchedulerStats;

struct Options {
  std::size_t targets = 1000;
  std::string base_ip = "127.1.0.0";
  std::uint16_t port = 0;
  std::string path = "/healthz";
  std::string via;  // HOST:PORT of a blackbox_exporter, or ""
  std::string module = "http_2xx";
  std::string interval = "1s";
  std::string timeout = "1s";
  std::string batch = "5ms";
  std::string warmup = "5s";
  std::string measure = "20s";
  bool keep_alive = false;
  int watch_pid = 0;
};

// Resident set size of this process in bytes, from /proc/self/status (VmRSS is in kB).
std::int64_t rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      std::int64_t kb = 0;
      fields >> kb;
      return kb * 1024;
    }
  }
  return -1;
}

// {"reason": count, ...}; the reasons are the prober's own ASCII texts, escaped all the same.
std::string reasons_json(const std::map<std::string, std::uint64_t>& reasons) {
  boost::json::object o;
  for (const auto& [reason, n] : reasons) {
    o[reason] = n;
  }
  return boost::json::serialize(o);
}

std::int64_t self_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const auto us = [](const timeval& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000 + t.tv_usec;
  };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

// utime + stime of another process.
std::optional<std::int64_t> pid_cpu_us(int pid) {
  const auto st = galaxy::admin::read_process_stats(pid);
  if (!st) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(st->cpu_seconds * 1e6);
}

// Room for one socket per target plus slack; as root the hard limit can be raised too.
// Every target may hold a socket (a kept connection, or a probe in flight for up to its timeout
// when the targets are slow), so N targets need N descriptors and some room. Returns the limit
// now in force.
rlim_t raise_fd_limit(std::size_t targets) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  const rlim_t want = static_cast<rlim_t>(targets) + 1024;
  if (lim.rlim_cur >= want) {
    return lim.rlim_cur;
  }
  rlimit more{want, std::max(want, lim.rlim_max)};
  if (setrlimit(RLIMIT_NOFILE, &more) != 0) {
    // Raising the hard limit needs CAP_SYS_RESOURCE; take what the hard limit allows.
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  getrlimit(RLIMIT_NOFILE, &lim);
  return lim.rlim_cur;
}

// Exit status for "this machine cannot run that size", which bench/run reports as such.
constexpr int kMachineCannot = 3;

ProbeSchedulerStats minus(const ProbeSchedulerStats& a, const ProbeSchedulerStats& b) {
  ProbeSchedulerStats d;
  d.targets = a.targets;
  d.probes_started = a.probes_started - b.probes_started;
  d.probes_ok = a.probes_ok - b.probes_ok;
  d.probes_failed = a.probes_failed - b.probes_failed;
  d.rounds_missed = a.rounds_missed - b.rounds_missed;
  d.rounds_skipped = a.rounds_skipped - b.rounds_skipped;
  for (std::size_t i = 0; i < d.lag_ms.size(); ++i) {
    d.lag_ms[i] = a.lag_ms[i] - b.lag_ms[i];
  }
  return d;
}

std::chrono::milliseconds duration_of(const char* flag, const std::string& value) {
  auto d = galaxy::parse_duration(value);
  if (!d) {
    throw CLI::ValidationError(flag, d.error().message());
  }
  return *d;
}

int run(const Options& o) {
  in_addr base{};
  if (inet_pton(AF_INET, o.base_ip.c_str(), &base) != 1) {
    throw CLI::ValidationError("--base-ip", "not an IPv4 address");
  }
  std::string via_host;
  std::uint16_t via_port = 0;
  if (!o.via.empty()) {
    const auto colon = o.via.rfind(':');
    if (colon == std::string::npos) {
      throw CLI::ValidationError("--via", "expected HOST:PORT");
    }
    via_host = o.via.substr(0, colon);
    via_port = static_cast<std::uint16_t>(std::stoi(o.via.substr(colon + 1)));
  }
  if (const rlim_t fds = raise_fd_limit(o.targets); fds < o.targets + 1024) {
    std::cerr << fmt::format(
        "probe_bench: {} targets need at least {} file descriptors, and RLIMIT_NOFILE allows {} "
        "(its hard limit can be raised only with CAP_SYS_RESOURCE: ulimit -Hn as root)\n",
        o.targets, o.targets + 1024, fds);
    return kMachineCannot;
  }

  galaxy::probe::ProbeSchedulerSettings settings;
  settings.interval = duration_of("--interval", o.interval);
  settings.start_grace = std::chrono::milliseconds(0);
  settings.probe.timeout = duration_of("--timeout", o.timeout);
  settings.batch_window = duration_of("--batch", o.batch);
  settings.probe.keep_alive = o.keep_alive;
  const auto warmup = duration_of("--warmup", o.warmup);
  const auto measure = duration_of("--measure", o.measure);

  asio::io_context ioc(1);
  galaxy::SystemClock clock;
  std::uint64_t events = 0;
  // Why targets failed (each probe_failed event's last error, or its HTTP status): where a run
  // falls short, this says whether the targets or the prober gave out.
  std::map<std::string, std::uint64_t> failure_reasons;
  galaxy::probe::ProbeScheduler scheduler(
      ioc.get_executor(), clock, settings,
      [&events, &failure_reasons](const std::string&, const galaxy::contract::Details& d,
                                  std::int64_t) {
        ++events;
        if (const auto* f = std::get_if<galaxy::contract::ProbeFailed>(&d)) {
          ++failure_reasons[f->last_error.empty() ? "HTTP " + std::to_string(f->last_status)
                                                  : f->last_error];
        }
      });

  const std::int64_t rss_before = rss_bytes();
  const std::uint32_t first = ntohl(base.s_addr);
  for (std::size_t i = 0; i < o.targets; ++i) {
    in_addr a{};
    a.s_addr = htonl(first + static_cast<std::uint32_t>(i));
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, ip, sizeof ip);
    auto r = o.via.empty() ? scheduler.add(std::to_string(i), ip, o.port, o.path)
                           : scheduler.add(std::to_string(i), via_host, via_port,
                                           fmt::format("/probe?target={}:{}{}&module={}", ip,
                                                       o.port, o.path, o.module));
    if (!r) {
      std::cerr << "probe_bench: target " << i << ": " << r.error().message() << "\n";
      return 1;
    }
  }

  ProbeSchedulerStats at_start;
  std::int64_t cpu_start = 0;
  std::optional<std::int64_t> watched_start;
  std::int64_t rss_after = 0;
  ProbeSchedulerStats window;
  std::int64_t cpu_used = 0;
  std::optional<std::int64_t> watched_used;
  std::chrono::steady_clock::time_point t_start;
  double seconds = 0;

  asio::steady_timer timer(ioc);
  timer.expires_after(warmup);
  timer.async_wait([&](const boost::system::error_code&) {
    at_start = scheduler.stats();
    cpu_start = self_cpu_us();
    if (o.watch_pid > 0) {
      watched_start = pid_cpu_us(o.watch_pid);
    }
    t_start = std::chrono::steady_clock::now();
    timer.expires_after(measure);
    timer.async_wait([&](const boost::system::error_code&) {
      cpu_used = self_cpu_us() - cpu_start;
      if (o.watch_pid > 0 && watched_start) {
        if (auto now = pid_cpu_us(o.watch_pid)) {
          watched_used = *now - *watched_start;
        }
      }
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      window = minus(scheduler.stats(), at_start);
      rss_after = rss_bytes();
      scheduler.stop();
      ioc.stop();
    });
  });
  ioc.run();

  const auto probes = static_cast<double>(window.probes_started);
  const auto per = [&](double v) { return probes > 0 ? v / probes : 0.0; };
  std::cout << fmt::format(
      "{{\"targets\":{},\"keep_alive\":{},\"via\":\"{}\",\"interval_ms\":{},\"seconds\":{:.3f},"
      "\"probes\":{},\"probes_ok\":{},\"probes_failed\":{},\"probes_per_s\":{:.1f},"
      "\"cpu_us\":{},\"cpu_us_per_probe\":{:.2f},\"cpu_cores\":{:.3f},"
      "\"lag_p50_ms\":{},\"lag_p99_ms\":{},\"lag_max_bucket_ms\":{},"
      "\"rounds_missed\":{},\"rounds_skipped\":{},\"events\":{},"
      "\"rss_before_bytes\":{},\"rss_after_bytes\":{},\"rss_bytes_per_target\":{:.1f},"
      "\"watched_pid\":{},\"watched_cpu_us\":{},\"watched_cpu_us_per_probe\":{},"
      "\"failure_reasons\":{}}}\n",
      o.targets, o.keep_alive, o.via, settings.interval.count(), seconds, window.probes_started,
      window.probes_ok, window.probes_failed, seconds > 0 ? probes / seconds : 0.0, cpu_used,
      per(static_cast<double>(cpu_used)),
      seconds > 0 ? static_cast<double>(cpu_used) / seconds / 1e6 : 0.0,
      window.lag_quantile_ms(0.5), window.lag_quantile_ms(0.99), window.lag_quantile_ms(1.0),
      window.rounds_missed, window.rounds_skipped, events, rss_before, rss_after,
      o.targets > 0 ? static_cast<double>(rss_after - rss_before) / static_cast<double>(o.targets)
                    : 0.0,
      o.watch_pid, watched_used ? std::to_string(*watched_used) : "null",
      watched_used && window.probes_ok > 0
          ? fmt::format("{:.2f}",
                        static_cast<double>(*watched_used) / static_cast<double>(window.probes_ok))
          : "null",
      reasons_json(failure_reasons));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"probe_bench: the Galaxy prober against N loopback /healthz targets"};
  Options o;
  app.add_option("--targets", o.targets, "Number of targets")->required();
  app.add_option("--base-ip", o.base_ip, "First target address (consecutive IPv4 from here)")
      ->capture_default_str();
  app.add_option("--port", o.port, "Port every target listens on")->required();
  app.add_option("--path", o.path, "Probe path")->capture_default_str();
  app.add_option("--via", o.via, "HOST:PORT of a blackbox_exporter to drive instead");
  app.add_option("--module", o.module, "blackbox_exporter module")->capture_default_str();
  app.add_option("--interval", o.interval, "Probe period per target")->capture_default_str();
  app.add_option("--timeout", o.timeout, "Deadline of one probe")->capture_default_str();
  app.add_option("--batch", o.batch, "Scheduler batch window (0: wake for every slot)")
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "Run before the measured window")->capture_default_str();
  app.add_option("--measure", o.measure, "Measured window")->capture_default_str();
  app.add_flag("--keep-alive", o.keep_alive, "Keep connections between probes");
  app.add_option("--watch-pid", o.watch_pid, "Also report this process's CPU over the window");
  try {
    app.parse(argc, argv);
    return run(o);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "probe_bench: " << e.what() << "\n";
    return 1;
  }
}
