// `galaxy-health completion bash|zsh`: the scripts come from the App itself, parse in their shells,
// and complete what the command line accepts. bash runs the completion function for real; zsh
// (when installed) checks syntax and that sourcing registers the function.
#include "galaxy/cli/completion.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>

#include "galaxy/cli/command_line.hpp"
#include "galaxy/testsupport/process.hpp"

namespace {

using galaxy::cli::CommandLine;
using galaxy::cli::CompletionHints;
using galaxy::cli::render_completion;
using galaxy::cli::Shell;
using galaxy::cli::ValueHint;
namespace ts = galaxy::testsupport;
using namespace std::chrono_literals;

std::string script(Shell shell) {
  const CommandLine cli;
  return render_completion(cli.app(), cli.completion_hints(), shell);
}

std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

bool have(const std::string& program) {
  return ts::run({"sh", "-c", "command -v " + program}, 30s).exit_code == 0;
}

// What bash's completion function offers for the words typed so far (the last one is the word
// being completed), one word per line.
std::string bash_offers(const std::string& completion, const std::vector<std::string>& words) {
  std::string driver = completion + "\nCOMP_WORDS=(";
  for (const auto& w : words) {
    driver += " '" + w + "'";
  }
  driver += ")\nCOMP_CWORD=" + std::to_string(words.size() - 1) +
            "\n_galaxy_health\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n";
  const auto r = ts::run({"bash", "--norc", "-c", driver}, 30s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}

// Each command and, depth first, its subcommands, with the words that name it ("engines run").
void each_command(const CLI::App& app, const std::string& path, int depth,
                  const std::function<void(const CLI::App&, const std::string&, int)>& visit) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    const std::string sub_path = path.empty() ? sub->get_name() : path + " " + sub->get_name();
    visit(*sub, sub_path, depth);
    each_command(*sub, sub_path, depth + 1, visit);
  }
}

TEST(Completion, EverySubcommandAndFlagIsInBothScripts) {
  const CommandLine cli;
  const auto names = subcommand_names(cli.app());
  ASSERT_EQ(names, (std::vector<std::string>{"validate", "tail", "consume", "snapshot", "web",
                                             "hosts", "stats", "engines", "completion"}));
  ASSERT_EQ(subcommand_names(*cli.app().get_subcommand("engines")),
            (std::vector<std::string>{"run", "ls", "show", "stop", "restart", "rm"}));
  const auto bash = script(Shell::bash);
  const auto zsh = script(Shell::zsh);
  int seen = 0;
  each_command(cli.app(), "", 1, [&](const CLI::App& sub, const std::string& path, int depth) {
    ++seen;
    const std::string& name = sub.get_name();
    // bash: a `case $cmd` branch; a nested command's path has a space, so it is quoted.
    const std::string label = path.find(' ') == std::string::npos ? path : "'" + path + "'";
    EXPECT_NE(bash.find("    " + label + ")\n"), std::string::npos) << path;
    // zsh: an entry of its parent's command list, and a branch of its parent's case, each level
    // indented 8 more.
    const std::size_t indent = std::size_t{8} * static_cast<std::size_t>(depth - 1);
    EXPECT_NE(zsh.find(std::string(4 + indent, ' ') + "'" + name + ":"), std::string::npos) << path;
    EXPECT_NE(zsh.find(std::string(8 + indent, ' ') + "(" + name + ")\n"), std::string::npos)
        << path;
    for (const CLI::Option* opt : sub.get_options()) {
      for (const auto& l : opt->get_lnames()) {
        EXPECT_NE(bash.find("--" + l), std::string::npos) << path << " --" << l;
        const bool spec = zsh.find("'--" + l + "[") != std::string::npos ||
                          zsh.find(")--" + l + "[") != std::string::npos ||
                          zsh.find("--" + l + "=[") != std::string::npos;
        EXPECT_TRUE(spec) << path << " --" << l;
      }
    }
  });
  EXPECT_EQ(seen, 15);
}

TEST(Completion, BashAcceptsTheBashScript) {
  const auto r = ts::run({"bash", "--norc", "-n", "-c", script(Shell::bash)}, 30s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // The check can fail: a broken script is refused.
  EXPECT_NE(ts::run({"bash", "--norc", "-n", "-c", script(Shell::bash) + "\nfi\n"}, 30s).exit_code,
            0);
}

TEST(Completion, BashCompletesSubcommandsFlagsAndValues) {
  const auto bash = script(Shell::bash);
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "s"}), "snapshot\nstats\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "snapshot", "--no"}), "--no-headers\n");
  const auto flags = bash_offers(bash, {"galaxy-health", "stats", "-"});
  for (const auto* f : {"-o\n", "--output\n", "--json\n", "--no-headers\n", "--redis-url\n",
                        "--stream\n", "--help\n", "--version\n"}) {
    EXPECT_NE(flags.find(f), std::string::npos) << f << flags;
  }
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "snapshot", "-o", ""}), "table\nwide\njson\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "h"}), "hosts\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "hosts", "-o", ""}), "table\nwide\njson\n");
  const auto hosts_flags = bash_offers(bash, {"galaxy-health", "hosts", "-"});
  for (const auto* f : {"-o\n", "--output\n", "--json\n", "--no-headers\n", "--postgres-url\n"}) {
    EXPECT_NE(hosts_flags.find(f), std::string::npos) << f << hosts_flags;
  }
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "stats", "--output", "=", "w"}), "wide\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "stats", "--output", "="}), "table\nwide\njson\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "tail", "--type", "probe_"}),
            "probe_failed\nprobe_recovered\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "completion", ""}), "bash\nzsh\n");
  // A free-text value gets no suggestions, and a flag's value is not taken for the subcommand.
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "--stream", ""}), "\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "--stream", "tail", "st"}), "stats\n");
}

TEST(Completion, BashCompletesTheEnginesSubcommands) {
  const auto bash = script(Shell::bash);
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "e"}), "engines\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "engines", ""}),
            "run\nls\nshow\nstop\nrestart\nrm\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "engines", "r"}), "run\nrestart\nrm\n");
  // engines' own flags take a value that is not a subcommand.
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "engines", "--api", "unix:/x.sock", "s"}),
            "show\nstop\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "--stream", "s", "engines", "l"}), "ls\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "engines", "ls", "-o", ""}), "table\nwide\njson\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "engines", "run", "--me"}), "--memory\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "engines", "stop", "--t"}),
            "--timeout\n--token-file\n");
  EXPECT_EQ(bash_offers(bash, {"galaxy-health", "engines", "ls", "--api", ""}), "\n");
  const auto flags = bash_offers(bash, {"galaxy-health", "engines", "show", "-"});
  for (const auto* f : {"-o\n", "--output\n", "--json\n", "--no-headers\n", "--api\n",
                        "--token-file\n", "--request-timeout\n", "--help\n"}) {
    EXPECT_NE(flags.find(f), std::string::npos) << f << flags;
  }
  const auto run_flags = bash_offers(bash, {"galaxy-health", "engines", "run", "--"});
  for (const auto* f : {"--env\n", "--label\n", "--healthz-port\n", "--healthz-path\n",
                        "--memory\n", "--cpus\n", "--network\n", "--api\n"}) {
    EXPECT_NE(run_flags.find(f), std::string::npos) << f << run_flags;
  }
}

TEST(Completion, ZshScriptStructure) {
  const auto zsh = script(Shell::zsh);
  EXPECT_EQ(zsh.rfind("#compdef galaxy-health\n", 0), 0U);
  EXPECT_NE(zsh.find("\n_galaxy-health() {\n"), std::string::npos);
  EXPECT_NE(zsh.find("compdef _galaxy-health galaxy-health\n"), std::string::npos);
  EXPECT_NE(zsh.find("'(-o --output)--output=[table, wide (more columns) or json (one JSON object "
                     "per line)]:output:(table wide json)'"),
            std::string::npos);
  EXPECT_NE(zsh.find("    'hosts:Daemons of the fleet from runtime_hosts"), std::string::npos);
  EXPECT_NE(zsh.find("'(-o --output)--output=[table, wide (more columns) or json (one JSON array "
                     "of all the daemons)]:output:(table wide json)'"),
            std::string::npos);
  EXPECT_NE(zsh.find("'*:files:_files'"), std::string::npos);
  // engines offers its own subcommands, then completes the one typed.
  EXPECT_NE(
      zsh.find("              _describe -t commands 'galaxy-health engines command' commands\n"),
      std::string::npos);
  EXPECT_NE(
      zsh.find("              curcontext=${curcontext%:*:*}:galaxy-health-engines-$line[1]:\n"),
      std::string::npos);
  EXPECT_NE(zsh.find("'*--env=[An environment variable, KEY=VALUE (repeatable)]:env: '"),
            std::string::npos);
  EXPECT_NE(zsh.find("'--token-file=[A file whose first line"), std::string::npos);
  EXPECT_NE(zsh.find("'1:shell:(bash zsh)'"), std::string::npos);
  // _arguments would end a description at its first ']'.
  EXPECT_NE(zsh.find("redis://(user:password@)host:port(/db)"), std::string::npos);
}

TEST(Completion, ZshAcceptsTheZshScriptAndSourcingRegistersIt) {
  if (!have("zsh")) {
    GTEST_SKIP() << "zsh is not installed; ZshScriptStructure still checks the script";
  }
  const auto zsh = script(Shell::zsh);
  auto r = ts::run({"zsh", "-f", "-n", "-c", zsh}, 30s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(ts::run({"zsh", "-f", "-n", "-c", zsh + "\nfi\n"}, 30s).exit_code, 0);
  const std::string dump = "/tmp/galaxy-health-zcompdump-" + std::to_string(::getpid());
  r = ts::run({"zsh", "-f", "-c",
               "autoload -U compinit && compinit -u -d " + dump + "\n" + zsh +
                   "\nprint -r -- $_comps[galaxy-health]; rm -f " + dump},
              30s);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "_galaxy-health\n");
}

TEST(Completion, FollowsTheAppItIsGiven) {
  CLI::App app{"demo", "demo"};
  auto* run = app.add_subcommand("run", "Run it. And more words");
  std::string mode;
  std::vector<std::string> targets;
  bool quiet = false;
  std::string secret;
  auto* mode_opt = run->add_option("-m,--mode", mode, "The mode");
  auto* target_opt = run->add_option("targets", targets, "What to run");
  run->add_flag("-q,--quiet", quiet, "Say less");
  run->add_option("--secret", secret, "Hidden")->group("");
  app.add_subcommand("hidden", "Not shown")->group("");
  const CompletionHints hints{{mode_opt, ValueHint{{"fast", "slow"}, false}},
                              {target_opt, ValueHint{{"alpha", "beta"}, false}}};
  const auto bash = render_completion(app, hints, Shell::bash);
  EXPECT_NE(bash.find("_demo()"), std::string::npos);
  EXPECT_NE(bash.find("complete -F _demo demo\n"), std::string::npos);
  EXPECT_EQ(bash.find("secret"), std::string::npos);
  EXPECT_EQ(bash.find("hidden"), std::string::npos);
  std::string driver = bash +
                       "\nCOMP_WORDS=(demo run -m ''); COMP_CWORD=3; _demo; echo ${COMPREPLY[*]}"
                       "\nCOMP_WORDS=(demo run ''); COMP_CWORD=2; _demo; echo ${COMPREPLY[*]}"
                       "\nCOMP_WORDS=(demo run -); COMP_CWORD=2; _demo; echo ${COMPREPLY[*]}\n";
  const auto r = ts::run({"bash", "--norc", "-c", driver}, 30s);
  EXPECT_EQ(r.output, "fast slow\nalpha beta\n-h --help -m --mode -q --quiet\n");

  const auto zsh = render_completion(app, hints, Shell::zsh);
  EXPECT_NE(zsh.find("    'run:Run it'\n"), std::string::npos) << zsh;  // the first sentence
  EXPECT_NE(zsh.find("'(-m --mode)-m+[The mode]:mode:(fast slow)'"), std::string::npos) << zsh;
  EXPECT_NE(zsh.find("'(-q --quiet)--quiet[Say less]'"), std::string::npos) << zsh;
  EXPECT_NE(zsh.find("'*:targets:(alpha beta)'"), std::string::npos) << zsh;
  EXPECT_EQ(zsh.find("secret"), std::string::npos);
  EXPECT_EQ(zsh.find("hidden"), std::string::npos);
}

}  // namespace
