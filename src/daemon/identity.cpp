#include "galaxy/daemon/identity.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <random>
#include <system_error>

#include "galaxy/common/random.hpp"

namespace galaxy::daemon {

std::string random_uuid() {
  std::mt19937_64 gen(random_seed());
  std::array<unsigned char, 16> b{};
  for (std::size_t i = 0; i < b.size(); i += 8) {
    const std::uint64_t v = gen();
    for (std::size_t j = 0; j < 8; ++j) {
      b[i + j] = static_cast<unsigned char>(v >> (8 * j));
    }
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string out;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out += '-';
    }
    out += fmt::format("{:02x}", b[i]);
  }
  return out;
}

Result<void> check_host_id(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return make_error("/", fmt::format("a host id has 1 to 64 characters, not {}", id.size()));
  }
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
      return make_error("/" + std::to_string(i),
                        fmt::format("a host id is made of letters, digits, '.', '_' and '-' (and "
                                    "starts with a letter or digit); '{}' at {} is not",
                                    c, i));
    }
  }
  return {};
}

Result<std::string> load_or_create_id(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) {
    std::ifstream in(file);
    std::string id;
    std::getline(in, id);
    if (!in && !in.eof()) {
      return make_error(file.string(), "cannot be read");
    }
    if (auto ok = check_host_id(id); !ok) {
      return make_error(file.string(),
                        "does not hold a valid id (" + ok.error().reason +
                            "); fix or remove it (removing it gives this daemon a new identity)");
    }
    return id;
  }
  const std::string id = random_uuid();
  const auto tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        0644);  // NOLINT(cppcoreguidelines-pro-type-vararg)
  if (fd < 0) {
    return make_error(tmp, "cannot be created: " + std::generic_category().message(errno));
  }
  const std::string line = id + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written || std::rename(tmp.c_str(), file.c_str()) != 0) {
    return make_error(file.string(),
                      "cannot be written: " + std::generic_category().message(errno));
  }
  return id;
}

std::string hostname() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) {
    return {};
  }
  return {buf.data()};
}

}  // namespace galaxy::daemon
