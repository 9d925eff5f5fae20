// One snapshot of what the daemon is doing, and the two places it is written: the periodic stats
// log line and /metrics. Both read the same snapshot, so they never disagree.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "galaxy/admin/exposition.hpp"
#include "galaxy/contract/event.hpp"
#include "galaxy/probe/scheduler.hpp"
#include "galaxy/publish/durable_sink.hpp"
#include "galaxy/sources/watcher.hpp"

namespace galaxy::daemon {

struct StdoutSinkStats {
  std::uint64_t written = 0;
  std::uint64_t dropped = 0;
};

// The host's lease (durable sink only: the stdout sink has no database to hold one in).
struct LeaseStats {
  bool enabled = false;
  bool active = false;
  std::int64_t epoch = 0;
  std::uint64_t takeovers = 0;   // times this daemon took the lease
  std::uint64_t step_downs = 0;  // times it lost it (renewal refused, or a write fenced)
  std::string host_id;
};

struct DaemonStats {
  sources::WatcherStats watcher;
  std::size_t watched = 0;
  bool synced = false;
  bool docker_up = false;
  probe::ProbeSchedulerStats probes;
  // Exactly one of these, by --sink.
  std::optional<publish::DurableSinkStats> durable;
  std::size_t queue_capacity = 0;
  std::optional<StdoutSinkStats> stdout_sink;
  LeaseStats lease;
  // Events the sources emitted (handed to the sink), by contract::EventType.
  std::array<std::uint64_t, contract::kEventTypeCount> emitted{};
};

struct BuildInfo {
  std::string version;
  std::string commit;
};

// "stats: watched=3 docker_events=..." for the log.
std::string stats_line(const DaemonStats& s);

// Every metric /metrics exposes. Cardinality is bounded by construction: labels take values from
// closed sets only (event type, probe outcome, dependency, sink), never a container or game ID.
void write_metrics(admin::Exposition& out, const DaemonStats& s, const BuildInfo& build);

}  // namespace galaxy::daemon
