// The process_* metrics every Prometheus client library exports, read from /proc (Linux).
#pragma once

#include <cstdint>
#include <optional>

#include "galaxy/admin/exposition.hpp"

namespace galaxy::admin {

struct ProcessStats {
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // since the epoch
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t max_fds = 0;
};

// This process (pid 0) or another one (the probe benchmark reads blackbox_exporter's); nullopt
// when /proc cannot be read (not Linux, hidepid, gone): the metrics are then left out.
std::optional<ProcessStats> read_process_stats(int pid = 0);

void write_process_metrics(Exposition& out, const ProcessStats& stats);

}  // namespace galaxy::admin
