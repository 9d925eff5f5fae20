// Everything `runtime-manager serve` is configured with. Each default is stated once, in the
// settings struct of the module it belongs to; DaemonSettings only gathers them, and adds the few
// that are the daemon's own.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "galaxy/admin/server.hpp"
#include "galaxy/daemon/logging.hpp"
#include "galaxy/docker/client.hpp"
#include "galaxy/lifecycle/api_server.hpp"
#include "galaxy/probe/scheduler.hpp"
#include "galaxy/publish/durable_sink.hpp"
#include "galaxy/publish/host_lease.hpp"
#include "galaxy/sources/watcher.hpp"

namespace galaxy::daemon {

enum class SinkKind : std::uint8_t { durable, stdout_lines };

struct DaemonSettings {
  SinkKind sink = SinkKind::durable;
  docker::DockerClientSettings docker;
  sources::WatcherSettings watcher;
  probe::ProbeSchedulerSettings probes;
  // on_resync_needed is the daemon's to set; whatever a caller puts there is replaced.
  publish::DurableSinkSettings durable;
  // listen "" turns the admin listener off.
  admin::AdminSettings admin;
  std::string state_dir = "/var/lib/galaxy-runtime-manager";
  // The host this daemon serves; "" takes (or makes) STATE_DIR/host-id. Standbys of one host are
  // given the same one explicitly.
  std::string host_id;
  publish::HostLeaseSettings lease;
  // While active, relay the rows other hosts left when their lease lapsed this long ago and no
  // daemon took it back (0 turns adoption off). At least twice the lease TTL.
  std::chrono::milliseconds adopt_after{60'000};
  // The engine lifecycle API (durable sink only: its records live in PostgreSQL). STATE_DIR in
  // listen is replaced by state_dir; "" turns the API off.
  lifecycle::ApiSettings api = [] {
    lifecycle::ApiSettings a;
    a.listen = "unix:STATE_DIR/api.sock";
    return a;
  }();
  std::vector<std::string> engine_image_prefixes;  // empty: any image
  std::chrono::milliseconds shutdown_timeout{5'000};
  std::string log_level = "info";
  LogFormat log_format = LogFormat::automatic;
  std::chrono::milliseconds stats_interval{60'000};
  // systemd (Type=notify): NOTIFY_SOCKET, and half of WATCHDOG_USEC; main reads them from the
  // environment systemd gives the service. "" / nullopt: not under systemd's supervision.
  std::string notify_socket;
  std::optional<std::chrono::microseconds> watchdog_interval;
};

}  // namespace galaxy::daemon
