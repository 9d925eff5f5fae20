#include "errors.hpp"

#include <string>

namespace galaxy::docker {
namespace {

class DockerCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "galaxy.docker"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::bad_response:
        return "malformed response from the Docker daemon";
      case errc::body_too_large:
        return "Docker response body exceeds the configured limit";
    }
    return "unknown Docker client error";
  }
};

}  // namespace

const boost::system::error_category& docker_category() noexcept {
  static const DockerCategory category;
  return category;
}

}  // namespace galaxy::docker
