#include "galaxy/common/cli.hpp"

namespace galaxy {

int parse_error_exit(const CLI::App& app, const CLI::ParseError& e, std::ostream& out,
                     std::ostream& err) {
  if (dynamic_cast<const CLI::Success*>(&e) != nullptr) {
    return app.exit(e, out, err);
  }
  const auto unknown = app.remaining(true);
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr && !unknown.empty()) {
    const std::string_view what = unknown.front().starts_with('-') ? "unknown flag"
                                  : app.get_subcommands().empty()  ? "unknown command"
                                                                   : "unexpected argument";
    err << app.get_name() << ": " << what << " '" << unknown.front()
        << "'\nRun with --help for more information.\n";
  } else {
    app.exit(e, out, err);
  }
  return kExitUsageError;
}

}  // namespace galaxy
