// galaxy-health: the operator CLI. Only wiring: each subcommand's work lives in a module library.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include "galaxy/contract/validate.hpp"

namespace {

constexpr int kExitUsage = 2;

int run_validate(const std::vector<std::string>& files, const std::string& format, bool json,
                 bool canonical) {
  galaxy::contract::ValidateOptions options;
  options.format = format == "entry" ? galaxy::contract::InputFormat::entry
                                     : galaxy::contract::InputFormat::payload;
  options.json = json;
  options.canonical = canonical;
  galaxy::contract::ValidateCounts total;
  auto add = [&total](galaxy::contract::ValidateCounts c) {
    total.valid += c.valid;
    total.invalid += c.invalid;
  };
  std::ios::sync_with_stdio(false);
  if (files.empty() || (files.size() == 1 && files[0] == "-")) {
    add(galaxy::contract::validate_stream(std::cin, std::cout, "", options));
    if (std::cin.bad()) {
      std::cerr << "galaxy-health validate: error reading stdin\n";
      return kExitUsage;
    }
  } else {
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::cerr << "galaxy-health validate: cannot open " << file << ": " << std::strerror(errno)
                  << "\n";
        return kExitUsage;
      }
      add(galaxy::contract::validate_stream(in, std::cout, file, options));
      if (in.bad()) {
        std::cerr << "galaxy-health validate: error reading " << file << "\n";
        return kExitUsage;
      }
    }
  }
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "galaxy-health validate: error writing output\n";
    return kExitUsage;
  }
  return total.invalid == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"galaxy-health: operator tools for the runtime:health_events stream"};
  app.require_subcommand(1);

  auto* validate = app.add_subcommand(
      "validate",
      "Check newline-delimited JSON against the health-events contract. Prints 'ok' or "
      "'invalid: <path>: <reason>' per line. Exit 0: all valid, 1: some invalid, 2: usage or I/O "
      "error.");
  std::vector<std::string> files;
  std::string format = "payload";
  bool json = false;
  bool canonical = false;
  validate->add_option("files", files, "Input files ('-' or none: stdin)");
  validate
      ->add_option("--format", format,
                   "payload: each line is a payload; entry: each line is "
                   "an object of the five stream fields (string values)")
      ->check(CLI::IsMember({"payload", "entry"}))
      ->capture_default_str();
  validate->add_flag("--json", json, "One JSON object per input line");
  validate->add_flag("--canonical", canonical,
                     "Print the canonical encoding of each valid line instead of 'ok'");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (*validate) {
    return run_validate(files, format, json, canonical);
  }
  return kExitUsage;
}
