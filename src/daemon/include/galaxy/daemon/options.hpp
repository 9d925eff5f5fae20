// The `serve` command line, environment and config file, mapped onto DaemonSettings. A library so
// precedence and every error message are unit-tested without spawning the binary (Envoy's main
// builds a tested options class the same way). Start-up only: throws CLI11's exceptions.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "galaxy/daemon/settings.hpp"

namespace galaxy::daemon {

// Adds serve's flags to `serve`, each writing straight into `settings` (whose current values are
// the defaults shown by --help) with its environment variable; `config_file` gets --config.
void add_serve_flags(CLI::App& serve, DaemonSettings& settings, std::string& config_file);

// `--config FILE` (or GALAXY_RM_CONFIG): a TOML file whose keys are serve's flags without the
// dashes. Its values become arguments placed before the real ones, so flags override them; a key
// whose environment variable is set is skipped, so the environment overrides the file.
// Precedence: flags > environment > file > defaults. Throws CLI::ValidationError naming the file
// and line (syntax), or the key (unknown key, value that is not a string, integer or boolean).
std::vector<std::string> config_args(const CLI::App& serve, const std::string& file);

// Parses `args` (argv without the program name) into `settings`, reading --config first.
// `env_config` is GALAXY_RM_CONFIG's value ("" when unset). Throws CLI::ParseError (CallForHelp,
// ValidationError, ...) as CLI11 does; the caller maps it to an exit code with app.exit().
void parse_command_line(CLI::App& app, CLI::App& serve, std::vector<std::string> args,
                        const std::string& env_config);

}  // namespace galaxy::daemon
