// What a binary was built from, for `--version` and the daemon's galaxy_build_info metric: one
// source so the two can never disagree.
#pragma once

#include <string>
#include <string_view>

namespace galaxy {

// CMake's PROJECT_VERSION, e.g. "0.1.0".
std::string_view build_version();

// The short (12-digit) commit of the source tree when CMake last configured the build; "unknown"
// outside a git checkout (a source tarball).
std::string_view build_commit();

// "<program> <version> (commit <commit>)", the line every binary prints for --version.
std::string version_line(std::string_view program);

}  // namespace galaxy
