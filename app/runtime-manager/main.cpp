// runtime-manager: watches game-engine containers and publishes their health events.
// Wiring only: the command line -> DaemonSettings -> Daemon (src/daemon).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "galaxy/daemon/daemon.hpp"
#include "galaxy/daemon/options.hpp"

int main(int argc, char** argv) {
  CLI::App app{"runtime-manager: health events of Galaxy game-engine containers"};
  app.require_subcommand(1);
  galaxy::daemon::DaemonSettings settings;
  std::string config_file;
  auto* serve = app.add_subcommand("serve", "Watch containers and publish health events");
  galaxy::daemon::add_serve_flags(*serve, settings, config_file);
  try {
    const char* env_config = std::getenv("GALAXY_RM_CONFIG");  // NOLINT(concurrency-mt-unsafe)
    galaxy::daemon::parse_command_line(app, *serve, {argv + 1, argv + argc},
                                       env_config != nullptr ? env_config : "");
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  auto logger = spdlog::stderr_color_mt("runtime-manager");
  // Microseconds: event timing questions (how long after dockerd's stamp an event reached us) are
  // answered from the log.
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%f] [%n] [%^%l%$] %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(settings.log_level));
  try {
    galaxy::daemon::Daemon daemon(std::move(settings));
    return daemon.run();
  } catch (const std::exception& e) {
    std::cerr << "runtime-manager: " << e.what() << "\n";
    return 1;
  }
}
