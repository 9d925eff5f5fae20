// `galaxy-health completion bash|zsh`: shell completion scripts generated from the CLI11 App
// itself, so a subcommand or flag added to the command line is completed without anyone editing
// a script.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

namespace galaxy::cli {

enum class Shell : std::uint8_t { bash, zsh };

// What to offer for an option's value or a subcommand's positional arguments; CLI11 cannot tell
// (a validator's choices are not readable back). Without a hint, values are free text.
struct ValueHint {
  std::vector<std::string> words;  // fixed choices (shell-safe words)
  bool files = false;              // file names
};
using CompletionHints = std::map<const CLI::Option*, ValueHint>;

// A script completing `program`: the subcommands of app, each one's flags plus those of app when
// the subcommand falls through to it, and the hinted values. Options in no help group (hidden)
// are left out. bash: a function for `complete -F`; zsh: a #compdef function that also works when
// sourced after compinit. Each script's first lines say how to load it.
std::string render_completion(const CLI::App& app, const CompletionHints& hints, Shell shell);

}  // namespace galaxy::cli
