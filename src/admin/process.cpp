#include "galaxy/admin/process.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace galaxy::admin {

std::optional<ProcessStats> read_process_stats(int pid) {
  const std::string dir = pid == 0 ? std::string("/proc/self") : "/proc/" + std::to_string(pid);
  std::ifstream stat_file(dir + "/stat");
  std::string line;
  if (!std::getline(stat_file, line)) {
    return std::nullopt;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const auto close = line.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  // Fields 3.. : state(3) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24)
  double utime = 0;
  double stime = 0;
  double starttime = 0;
  std::uint64_t vsize = 0;
  std::uint64_t rss_pages = 0;
  for (int i = 3; i <= 24 && rest >> field; ++i) {
    if (i == 14) {
      utime = std::stod(field);
    } else if (i == 15) {
      stime = std::stod(field);
    } else if (i == 22) {
      starttime = std::stod(field);
    } else if (i == 23) {
      vsize = std::stoull(field);
    } else if (i == 24) {
      rss_pages = std::stoull(field);
    }
  }
  const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double boot_time = 0;
  std::ifstream proc_stat("/proc/stat");
  while (std::getline(proc_stat, line)) {
    if (line.starts_with("btime ")) {
      boot_time = std::stod(line.substr(6));
      break;
    }
  }
  ProcessStats s;
  s.cpu_seconds = (utime + stime) / ticks;
  s.start_time_seconds = boot_time + starttime / ticks;
  s.virtual_bytes = vsize;
  s.resident_bytes = rss_pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++s.open_fds;
  }
  rlimit lim{};
  if (::prlimit(pid, RLIMIT_NOFILE, nullptr, &lim) == 0) {
    s.max_fds = lim.rlim_cur;
  }
  return s;
}

void write_process_metrics(Exposition& out, const ProcessStats& s) {
  out.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
              s.cpu_seconds);
  out.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            s.start_time_seconds);
  out.gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
            static_cast<double>(s.resident_bytes));
  out.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
            static_cast<double>(s.virtual_bytes));
  out.gauge("process_open_fds", "Number of open file descriptors.",
            static_cast<double>(s.open_fds));
  out.gauge("process_max_fds", "Maximum number of open file descriptors.",
            static_cast<double>(s.max_fds));
}

}  // namespace galaxy::admin
