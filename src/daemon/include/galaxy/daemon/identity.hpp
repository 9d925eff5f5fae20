// Who a daemon is in the fleet: the host it serves (--host-id, else a UUID made once and kept in
// the state dir) and itself (a UUID kept in the state dir). Never derived from the hostname or
// the machine ID: clones of one VM image share those (docs/fleet.md).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "galaxy/common/result.hpp"

namespace galaxy::daemon {

// A random (version 4) UUID in its usual text form.
std::string random_uuid();

// A host id is used in SQL values and Redis key names: 1 to 64 of [A-Za-z0-9._-], starting with a
// letter or digit. The error names the first offending character.
Result<void> check_host_id(std::string_view id);

// The id stored in `file`, or a new random UUID written there first (atomically: a crash leaves
// either no file or a whole one). An existing file that does not hold a valid id is an error, not
// replaced: a daemon must never change identity silently.
Result<std::string> load_or_create_id(const std::filesystem::path& file);

// gethostname(), or "" when it fails.
std::string hostname();

}  // namespace galaxy::daemon
