#include "galaxy/common/tokens.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <system_error>
#include <utility>

#include "galaxy/common/unique_fd.hpp"

namespace galaxy {

namespace {

constexpr std::size_t kMaxTokenFile = std::size_t{1} << 20;
constexpr std::size_t kMinToken = 16;

std::string errno_text(int err) {
  return std::error_code(err, std::system_category()).message();
}

// Time depends on the presented token's length only, never on the secret's length or on where
// the two differ: the secret is read modulo its length and the length difference is folded
// into the result.
bool constant_time_equal(std::string_view presented, std::string_view secret) {
  std::size_t diff = presented.size() ^ secret.size();
  for (std::size_t i = 0; i < presented.size(); ++i) {
    diff |= static_cast<unsigned char>(presented[i]) ^
            static_cast<unsigned char>(secret[i % secret.size()]);
  }
  return diff == 0;
}

bool printable(std::string_view s) {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7f) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::vector<Token>> parse_tokens(const std::string& path, std::string_view text,
                                        const std::string& flag) {
  std::vector<Token> tokens;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    std::vector<std::string_view> words;
    while (!line.empty()) {
      const auto start = line.find_first_not_of(" \t\r");
      if (start == std::string_view::npos) {
        break;
      }
      line.remove_prefix(start);
      const auto end = line.find_first_of(" \t\r");
      words.push_back(line.substr(0, end));
      line = end == std::string_view::npos ? std::string_view{} : line.substr(end);
    }
    if (words.empty() || words[0].starts_with('#')) {
      continue;
    }
    // Reasons name the line, never its content: the content is a secret.
    const auto bad = [&](const std::string& why) {
      std::string where = path;
      where += ':';
      where += std::to_string(line_no);
      where += ": ";
      where += why;
      return make_error(flag, std::move(where));
    };
    if (words.size() > 2) {
      return bad("expected NAME TOKEN or TOKEN");
    }
    Token t{words.size() == 2 ? std::string(words[0]) : "default", std::string(words.back())};
    if (!printable(t.name) || !printable(t.secret)) {
      return bad("names and tokens are printable ASCII");
    }
    if (t.name.starts_with("unix:")) {
      return bad("a name must not start with \"unix:\" (that is how local peers are logged)");
    }
    if (t.secret.size() < kMinToken) {
      return bad("the token is shorter than 16 characters");
    }
    for (const auto& other : tokens) {
      if (other.name == t.name) {
        return bad("a second token named " + t.name);
      }
      if (other.secret == t.secret) {
        return bad("the same token as " + other.name);
      }
    }
    tokens.push_back(std::move(t));
  }
  if (tokens.empty()) {
    return make_error(flag, path + " holds no token");
  }
  return tokens;
}

Result<std::vector<Token>> read_token_file(const std::string& path, const std::string& flag) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    return make_error(flag, "cannot open " + path + ": " + errno_text(errno));
  }
  // The checks are on the descriptor that is read, so the file cannot change in between.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return make_error(flag, "cannot stat " + path + ": " + errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(flag, path + " is not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    std::array<char, 8> mode{};
    std::snprintf(mode.data(), mode.size(), "%04o", static_cast<unsigned>(st.st_mode & 07777U));
    return make_error(
        flag, path + " is open to group or others (mode " + mode.data() + "): chmod 600 it");
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxTokenFile) {
    return make_error(flag, path + " is larger than 1 MiB");
  }
  std::string text;
  std::array<char, 4096> buf{};
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return make_error(flag, "cannot read " + path + ": " + errno_text(errno));
    }
    if (n == 0) {
      break;
    }
    text.append(buf.data(), static_cast<std::size_t>(n));
    if (text.size() > kMaxTokenFile) {
      return make_error(flag, path + " is larger than 1 MiB");
    }
  }
  return parse_tokens(path, text, flag);
}

// Every token is compared, whichever matched, so the time says nothing about which one did.
std::optional<std::string> match_token(const std::vector<Token>& tokens,
                                       std::string_view presented) {
  std::size_t found = tokens.size();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const bool equal = constant_time_equal(presented, tokens[i].secret);
    found = equal ? i : found;
  }
  if (found == tokens.size()) {
    return std::nullopt;
  }
  return tokens[found].name;
}

}  // namespace galaxy
