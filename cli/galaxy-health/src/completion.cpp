#include "galaxy/cli/completion.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <stdexcept>

namespace galaxy::cli {

namespace {

// What the scripts need of one flag, read off the CLI11 Option.
struct Flag {
  std::vector<std::string> names;  // "-o", "--output"
  std::string value_name;          // "output": zsh's message while the value is typed
  bool takes_value = false;
  bool repeatable = false;
  std::string help;
  const ValueHint* hint = nullptr;
};

struct Positional {
  std::string name;
  bool many = false;
  const ValueHint* hint = nullptr;
};

struct Command {
  std::string name;  // the word typed
  std::string path;  // the words from the program on, space-separated: "engines run"; top: ""
  std::string help;
  std::vector<Flag> flags;  // its own, then those it inherits by falling through to its parent
  std::vector<Positional> positionals;
  std::vector<Command> subcommands;
};

// The first sentence: a completion menu has one line per entry.
std::string summary(const std::string& text) {
  const auto end = text.find(". ");
  std::string s = text.substr(0, end);
  if (!s.empty() && s.back() == '.') {
    s.pop_back();
  }
  return s;
}

const ValueHint* hint_of(const CompletionHints& hints, const CLI::Option* opt) {
  const auto it = hints.find(opt);
  return it == hints.end() ? nullptr : &it->second;
}

bool has_name(const std::vector<Flag>& flags, const std::string& name) {
  return std::any_of(flags.begin(), flags.end(), [&name](const Flag& f) {
    return std::find(f.names.begin(), f.names.end(), name) != f.names.end();
  });
}

// `app` and, depth first, its subcommands. `parent` is the parent's Command (nullptr: top).
Command read_command(const CLI::App& app, const CompletionHints& hints, const Command* parent) {
  Command cmd{app.get_name(),
              parent == nullptr      ? std::string()
              : parent->path.empty() ? app.get_name()
                                     : parent->path + " " + app.get_name(),
              summary(app.get_description()),
              {},
              {},
              {}};
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_group().empty()) {
      continue;  // CLI11's way of hiding an option
    }
    const bool many = opt->get_expected_max() > 1;
    if (!opt->nonpositional()) {
      cmd.positionals.push_back(Positional{opt->get_name(true), many, hint_of(hints, opt)});
      continue;
    }
    Flag f;
    for (const auto& s : opt->get_snames()) {
      f.names.push_back("-" + s);
    }
    for (const auto& l : opt->get_lnames()) {
      f.names.push_back("--" + l);
    }
    f.value_name =
        opt->get_lnames().empty() ? opt->get_snames().front() : opt->get_lnames().front();
    f.takes_value = opt->get_items_expected_max() > 0;  // flags expect none
    f.repeatable = many;
    f.help = summary(opt->get_description());
    f.hint = hint_of(hints, opt);
    cmd.flags.push_back(std::move(f));
  }
  if (parent != nullptr && app.get_fallthrough()) {
    // The parent's flags work after this command's name too.
    for (const Flag& f : parent->flags) {
      if (!has_name(cmd.flags, f.names.front())) {
        cmd.flags.push_back(f);
      }
    }
  }
  for (const CLI::App* sub :
       app.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); })) {
    if (sub->get_disabled() || sub->get_group().empty()) {
      continue;
    }
    cmd.subcommands.push_back(read_command(*sub, hints, &cmd));
  }
  return cmd;
}

struct Model {
  std::string program;
  Command top;
};

Model read_model(const CLI::App& app, const CompletionHints& hints) {
  if (app.get_name().empty()) {
    throw std::logic_error("render_completion: the App needs a name (the program's)");
  }
  return Model{app.get_name(), read_command(app, hints, nullptr)};
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : std::string(sep)) + item;
  }
  return out;
}

// A shell word in single quotes.
std::string shell_quoted(std::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

std::vector<std::string> command_names(const std::vector<Command>& commands) {
  std::vector<std::string> names;
  names.reserve(commands.size());
  for (const auto& c : commands) {
    names.push_back(c.name);
  }
  return names;
}

std::vector<std::string> all_names(const std::vector<Flag>& flags) {
  std::vector<std::string> names;
  for (const auto& f : flags) {
    names.insert(names.end(), f.names.begin(), f.names.end());
  }
  return names;
}

std::vector<std::string> value_flag_names(const std::vector<Flag>& flags) {
  std::vector<std::string> names;
  for (const auto& f : flags) {
    if (f.takes_value) {
      names.insert(names.end(), f.names.begin(), f.names.end());
    }
  }
  return names;
}

// --- bash ---------------------------------------------------------------------------------------

// Lines that fill COMPREPLY from a hint (nothing for free text) and return.
std::string bash_reply(const ValueHint* hint, std::string_view indent) {
  std::string out;
  if (hint != nullptr && hint->files) {
    out = fmt::format(
        "{0}compopt -o filenames 2>/dev/null\n{0}mapfile -t COMPREPLY < <(compgen -f -- "
        "\"$cur\")\n",
        indent);
  } else if (hint != nullptr) {
    out = fmt::format("{}mapfile -t COMPREPLY < <(compgen -W {} -- \"$cur\")\n", indent,
                      shell_quoted(join(hint->words, " ")));
  }
  return out + std::string(indent) + "return\n";
}

// The body of one `case $cmd` branch: a flag's value after a flag that takes one, else flags
// after '-', else the subcommands (top level), the first positional's hint, or the flags.
std::string bash_command(const Command& cmd, const std::vector<Command>& subcommands) {
  std::string out;
  std::string value_cases;
  std::vector<std::string> free_text;
  for (const Flag& f : cmd.flags) {
    if (f.takes_value && f.hint == nullptr) {
      free_text.insert(free_text.end(), f.names.begin(), f.names.end());
    } else if (f.takes_value) {
      value_cases += fmt::format("        {})\n{}          ;;\n", join(f.names, "|"),
                                 bash_reply(f.hint, "          "));
    }
  }
  if (!free_text.empty()) {
    value_cases +=
        fmt::format("        {})\n          return\n          ;;\n", join(free_text, "|"));
  }
  if (!value_cases.empty()) {
    out += "      case $prev in\n" + value_cases + "      esac\n";
  }
  const std::string flags = shell_quoted(join(all_names(cmd.flags), " "));
  const bool hinted = !cmd.positionals.empty() && cmd.positionals.front().hint != nullptr;
  if (subcommands.empty() && !hinted) {
    return out + fmt::format("      words={}\n", flags);
  }
  out += fmt::format("      if [[ $cur == -* ]]; then\n        words={}\n      else\n", flags);
  if (!subcommands.empty()) {
    out += fmt::format("        words={}\n", shell_quoted(join(command_names(subcommands), " ")));
  } else {
    out += bash_reply(cmd.positionals.front().hint, "        ");
  }
  return out + "      fi\n";
}

// A `case` pattern that matches exactly this word.
std::string bash_pattern(std::string_view word) {
  const bool plain = std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '/';
  });
  return plain && !word.empty() ? std::string(word) : shell_quoted(word);
}

// The scan's branches for the words typed after `cmd`'s name: its value flags skip their value,
// and a subcommand's name moves on to it (and ends the scan when that one has no subcommands).
std::string bash_scan(const Command& cmd) {
  if (cmd.subcommands.empty()) {
    return {};
  }
  std::string out;
  std::vector<std::string> skip;
  for (const auto& name : value_flag_names(cmd.flags)) {
    skip.push_back(bash_pattern(cmd.path + "/" + name));
  }
  if (!skip.empty()) {
    out += fmt::format("      {}) ((i++)) ;;\n", join(skip, "|"));
  }
  for (const auto& sub : cmd.subcommands) {
    out += fmt::format("      {})\n        cmd={}\n", bash_pattern(cmd.path + "/" + sub.name),
                       shell_quoted(sub.path));
    out += sub.subcommands.empty() ? "        break\n        ;;\n" : "        ;;\n";
  }
  for (const auto& sub : cmd.subcommands) {
    out += bash_scan(sub);
  }
  return out;
}

// One `case $cmd` branch per command, depth first.
std::string bash_branches(const Command& cmd) {
  std::string out = fmt::format("    {})\n", cmd.path.empty() ? "\"\"" : bash_pattern(cmd.path)) +
                    bash_command(cmd, cmd.subcommands) + "      ;;\n";
  for (const auto& sub : cmd.subcommands) {
    out += bash_branches(sub);
  }
  return out;
}

std::string render_bash(const Model& m) {
  std::string fn = "_" + m.program;
  std::replace_if(
      fn.begin(), fn.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) == 0; },
      '_');
  std::string out = fmt::format(
      "# bash completion for {0}, generated by `{0} completion bash`.\n"
      "# Load it into this shell:  source <({0} completion bash)\n"
      "# or into every new one:    {0} completion bash > /etc/bash_completion.d/{0}\n"
      "{1}() {{\n"
      "  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=\"\" cmd=\"\" words=\"\" i\n"
      "  ((COMP_CWORD > 0)) && prev=${{COMP_WORDS[COMP_CWORD - 1]}}\n"
      "  # bash splits --flag=value at '=' (COMP_WORDBREAKS): complete the value of the flag.\n"
      "  if [[ $cur == \"=\" ]]; then\n"
      "    cur=\"\"\n"
      "  elif [[ $prev == \"=\" ]] && ((COMP_CWORD > 1)); then\n"
      "    prev=${{COMP_WORDS[COMP_CWORD - 2]}}\n"
      "  fi\n"
      "  # Which command is being typed: \"\" (none yet), a subcommand, or \"engines run\" and\n"
      "  # the like; each level's flags that take a value skip it.\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case $cmd/${{COMP_WORDS[i]}} in\n",
      m.program, fn);
  out += bash_scan(m.top);
  out += "    esac\n  done\n  COMPREPLY=()\n  case $cmd in\n";
  out += bash_branches(m.top);
  out += fmt::format(
      "  esac\n"
      "  mapfile -t COMPREPLY < <(compgen -W \"$words\" -- \"$cur\")\n"
      "}}\n"
      "complete -F {} {}\n",
      fn, m.program);
  return out;
}

// --- zsh ----------------------------------------------------------------------------------------

// Text for inside '...' and _arguments' [...]: brackets would end the description early.
std::string zsh_text(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '[':
        out += '(';
        break;
      case ']':
        out += ')';
        break;
      case '\\':
        break;
      case '\'':
        out += "'\\''";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string zsh_action(const ValueHint* hint) {
  if (hint == nullptr) {
    return " ";  // a value is expected, but nothing can be offered
  }
  if (hint->files) {
    return "_files";
  }
  return "(" + join(hint->words, " ") + ")";
}

std::vector<std::string> zsh_specs(const Command& cmd) {
  std::vector<std::string> specs;
  for (const Flag& f : cmd.flags) {
    const std::string exclusion =
        f.names.size() > 1 && !f.repeatable ? "(" + join(f.names, " ") + ")" : "";
    for (const auto& name : f.names) {
      std::string spec = exclusion;
      if (f.repeatable) {
        spec += '*';
      }
      spec += name;
      if (f.takes_value) {
        spec += name.rfind("--", 0) == 0 ? "=" : "+";
      }
      spec += "[" + zsh_text(f.help) + "]";
      if (f.takes_value) {
        spec += ":" + zsh_text(f.value_name) + ":" + zsh_action(f.hint);
      }
      specs.push_back("'" + spec + "'");
    }
  }
  for (std::size_t i = 0; i < cmd.positionals.size(); ++i) {
    const auto& p = cmd.positionals[i];
    specs.push_back("'" + (p.many ? std::string("*") : std::to_string(i + 1)) + ":" +
                    zsh_text(p.name) + ":" + zsh_action(p.hint) + "'");
  }
  return specs;
}

// -C (let a state action change the context) only where the specs have states: the top level.
std::string zsh_arguments(const std::vector<std::string>& specs, std::string_view indent,
                          bool states = false) {
  std::string out = states ? "_arguments -C" : "_arguments";
  for (const auto& s : specs) {
    out += " \\\n" + std::string(indent) + s;
  }
  return out;
}

// What completes `cmd` at `indent`: _arguments with its flags and positionals or, for a command
// with subcommands, an _arguments that offers them and then completes the one typed (the same
// again, one level down).
std::string zsh_body(const Model& m, const Command& cmd, const std::string& indent) {
  if (cmd.subcommands.empty()) {
    return indent + zsh_arguments(zsh_specs(cmd), indent + "  ") + "\n";
  }
  const std::string words = cmd.path.empty() ? m.program : m.program + " " + cmd.path;
  std::string context = words;
  std::replace(context.begin(), context.end(), ' ', '-');
  std::string out = indent + "commands=(\n";
  for (const auto& c : cmd.subcommands) {
    out += fmt::format("{}  '{}:{}'\n", indent, c.name, zsh_text(c.help));
  }
  auto specs = zsh_specs(cmd);
  specs.emplace_back("'1: :->command'");
  specs.emplace_back("'*:: :->args'");
  out += indent + ")\n" + indent + zsh_arguments(specs, indent + "  ", true) + " && return\n";
  out += fmt::format(
      "{0}case $state in\n"
      "{0}  (command)\n"
      "{0}    _describe -t commands '{1} command' commands\n"
      "{0}    ;;\n"
      "{0}  (args)\n"
      "{0}    curcontext=${{curcontext%:*:*}}:{2}-$line[1]:\n"
      "{0}    case $line[1] in\n",
      indent, words, context);
  for (const auto& c : cmd.subcommands) {
    out += fmt::format("{}      ({})\n", indent, c.name) + zsh_body(m, c, indent + "        ") +
           fmt::format("{}        ;;\n", indent);
  }
  out += fmt::format("{0}    esac\n{0}    ;;\n{0}esac\n", indent);
  return out;
}

std::string render_zsh(const Model& m) {
  const std::string fn = "_" + m.program;
  std::string out = fmt::format(
      "#compdef {0}\n"
      "# zsh completion for {0}, generated by `{0} completion zsh`.\n"
      "# Load it into this shell (after compinit):  source <({0} completion zsh)\n"
      "# or into every new one:  {0} completion zsh > \"${{fpath[1]}}/{1}\"\n"
      "\n"
      "{1}() {{\n"
      "  local curcontext=$curcontext state line\n"
      "  typeset -A opt_args\n"
      "  local -a commands\n",
      m.program, fn);
  out += zsh_body(m, m.top, "  ");
  out += fmt::format(
      "}}\n"
      "\n"
      "# Autoloaded from $fpath the file is the function's body: define it, then complete. "
      "Sourced:\n"
      "# register it.\n"
      "if [[ $funcstack[1] == {0} ]]; then\n"
      "  {0} \"$@\"\n"
      "else\n"
      "  compdef {0} {1}\n"
      "fi\n",
      fn, m.program);
  return out;
}

}  // namespace

std::string render_completion(const CLI::App& app, const CompletionHints& hints, Shell shell) {
  const Model m = read_model(app, hints);
  return shell == Shell::bash ? render_bash(m) : render_zsh(m);
}

}  // namespace galaxy::cli
