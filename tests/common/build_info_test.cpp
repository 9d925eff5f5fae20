#include "galaxy/common/build_info.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace {

TEST(BuildInfo, VersionIsTheProjectsAndTheCommitIsShortOrUnknown) {
  EXPECT_EQ(galaxy::build_version(), GALAXY_PROJECT_VERSION);
  const std::string commit(galaxy::build_commit());
  EXPECT_TRUE(std::regex_match(commit, std::regex("[0-9a-f]{12}|unknown"))) << commit;
}

TEST(BuildInfo, VersionLineNamesTheProgram) {
  EXPECT_EQ(galaxy::version_line("galaxy-health"), "galaxy-health " GALAXY_PROJECT_VERSION
                                                   " (commit " +
                                                       std::string(galaxy::build_commit()) + ")");
}

}  // namespace
