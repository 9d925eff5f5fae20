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
  std::string name;
  std::string help;
  std::vector<Flag> flags;
  std::vector<Positional> positionals;
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

Command read_command(const CLI::App& app, const CompletionHints& hints) {
  Command cmd{app.get_name(), summary(app.get_description()), {}, {}};
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
  return cmd;
}

struct Model {
  std::string program;
  Command top;
  std::vector<Command> commands;
};

Model read_model(const CLI::App& app, const CompletionHints& hints) {
  if (app.get_name().empty()) {
    throw std::logic_error("render_completion: the App needs a name (the program's)");
  }
  Model m{app.get_name(), read_command(app, hints), {}};
  for (const CLI::App* sub :
       app.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); })) {
    if (sub->get_disabled() || sub->get_group().empty()) {
      continue;
    }
    Command cmd = read_command(*sub, hints);
    if (sub->get_fallthrough()) {
      // The parent's flags work after the subcommand's name too.
      for (const Flag& f : m.top.flags) {
        if (!has_name(cmd.flags, f.names.front())) {
          cmd.flags.push_back(f);
        }
      }
    }
    m.commands.push_back(std::move(cmd));
  }
  return m;
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
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case ${{COMP_WORDS[i]}} in\n",
      m.program, fn);
  if (const auto skip = value_flag_names(m.top.flags); !skip.empty()) {
    out += fmt::format("      {}) ((i++)) ;;\n", join(skip, "|"));
  }
  const auto names = command_names(m.commands);
  if (!names.empty()) {
    out += fmt::format("      {})\n        cmd=${{COMP_WORDS[i]}}\n        break\n        ;;\n",
                       join(names, "|"));
  }
  out += "    esac\n  done\n  COMPREPLY=()\n  case $cmd in\n    \"\")\n";
  out += bash_command(m.top, m.commands) + "      ;;\n";
  for (const auto& c : m.commands) {
    out += fmt::format("    {})\n", c.name) + bash_command(c, {}) + "      ;;\n";
  }
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
      "  local -a commands\n"
      "  commands=(\n",
      m.program, fn);
  for (const auto& c : m.commands) {
    out += fmt::format("    '{}:{}'\n", c.name, zsh_text(c.help));
  }
  auto top = zsh_specs(m.top);
  top.emplace_back("'1: :->command'");
  top.emplace_back("'*:: :->args'");
  out += "  )\n  " + zsh_arguments(top, "    ", true) + " && return\n";
  out += fmt::format(
      "  case $state in\n"
      "    (command)\n"
      "      _describe -t commands '{0} command' commands\n"
      "      ;;\n"
      "    (args)\n"
      "      curcontext=${{curcontext%:*:*}}:{0}-$line[1]:\n"
      "      case $line[1] in\n",
      m.program);
  for (const auto& c : m.commands) {
    out += fmt::format("        ({})\n          {}\n          ;;\n", c.name,
                       zsh_arguments(zsh_specs(c), "            "));
  }
  out += fmt::format(
      "      esac\n"
      "      ;;\n"
      "  esac\n"
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
