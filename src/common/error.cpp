#include "galaxy/common/result.hpp"

namespace galaxy {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid:
      return "invalid";
    case ErrorKind::io:
      return "io";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::closed:
      return "closed";
    case ErrorKind::protocol:
      return "protocol";
    case ErrorKind::server:
      return "server";
  }
  return "unknown";
}

}  // namespace galaxy
