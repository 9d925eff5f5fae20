#include "galaxy/common/build_info.hpp"

namespace galaxy {

// GALAXY_VERSION and GALAXY_COMMIT are set on this file alone (src/common/CMakeLists.txt), so a
// new commit recompiles one file, not every file that shows the version.
std::string_view build_version() {
  return GALAXY_VERSION;
}

std::string_view build_commit() {
  return GALAXY_COMMIT;
}

std::string version_line(std::string_view program) {
  std::string line(program);
  line.append(" ").append(build_version()).append(" (commit ").append(build_commit()).append(")");
  return line;
}

}  // namespace galaxy
