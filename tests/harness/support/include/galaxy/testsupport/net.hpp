#pragma once
// Loopback ports for tests that start their own servers (a private redis-server or PostgreSQL).
#include <cstdint>

namespace galaxy::testsupport {

// A TCP port on 127.0.0.1 that was free a moment ago: the kernel picks it for a socket that is
// closed again before returning. Another process may take it meanwhile, which a test sees as its
// server failing to start. Throws boost::system::system_error when no socket can be bound.
std::uint16_t free_port();

}  // namespace galaxy::testsupport
