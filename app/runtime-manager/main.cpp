// runtime-manager: watches game-engine containers and publishes their health events.
// Wiring only: the command line -> DaemonSettings -> Daemon (src/daemon).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "galaxy/common/build_info.hpp"
#include "galaxy/common/cli.hpp"
#include "galaxy/daemon/daemon.hpp"
#include "galaxy/daemon/logging.hpp"
#include "galaxy/daemon/options.hpp"
#include "galaxy/daemon/sd_notify.hpp"

int main(int argc, char** argv) {
  CLI::App app{"runtime-manager: health events of Galaxy game-engine containers",
               "runtime-manager"};
  app.require_subcommand(1);
  app.set_version_flag("--version", galaxy::version_line("runtime-manager"));
  galaxy::daemon::DaemonSettings settings;
  std::string config_file;
  auto* serve = app.add_subcommand("serve", "Watch containers and publish health events");
  galaxy::daemon::add_serve_flags(*serve, settings, config_file);
  try {
    const char* env_config = std::getenv("GALAXY_RM_CONFIG");  // NOLINT(concurrency-mt-unsafe)
    galaxy::daemon::parse_command_line(app, *serve, {argv + 1, argv + argc},
                                       env_config != nullptr ? env_config : "");
  } catch (const CLI::ParseError& e) {
    return galaxy::parse_error_exit(app, e, std::cout, std::cerr);
  }
  galaxy::daemon::setup_logging(settings.log_format, settings.log_level);
  // systemd's side of Type=notify and WatchdogSec= (packaging/runtime-manager.service).
  // NOLINTBEGIN(concurrency-mt-unsafe): read once, before any thread starts
  const char* notify = std::getenv("NOTIFY_SOCKET");
  settings.notify_socket = notify != nullptr ? notify : "";
  settings.watchdog_interval = galaxy::daemon::watchdog_interval(
      std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), ::getpid());
  // NOLINTEND(concurrency-mt-unsafe)
  try {
    galaxy::daemon::Daemon daemon(std::move(settings));
    return daemon.run();
  } catch (const std::exception& e) {
    std::cerr << "runtime-manager: " << e.what() << "\n";
    return 1;
  }
}
