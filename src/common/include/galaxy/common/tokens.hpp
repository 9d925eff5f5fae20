// Bearer tokens of the daemon's lifecycle API and of `galaxy-health web`, read one way so both
// listeners refuse the same mistakes and compare in constant time.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/common/result.hpp"

namespace galaxy {

struct Token {
  std::string name;  // for the audit log; "default" for a line holding only a token
  std::string secret;
};

// A token file: lines of "NAME TOKEN" or "TOKEN" ('#' comments, blank lines), tokens of 16 or more
// printable ASCII characters, names and tokens unique. The file must be a regular file of at most
// 1 MiB closed to group and others (chmod 600). Errors are Error{invalid} with path `flag`; they
// name the file and the line, never a token.
Result<std::vector<Token>> read_token_file(const std::string& path, const std::string& flag);

// The same rules on text already read (`path` only names it in errors).
Result<std::vector<Token>> parse_tokens(const std::string& path, std::string_view text,
                                        const std::string& flag);

// The name of the token `presented` equals, or nullopt. The time it takes depends only on the
// presented token's length and the number of tokens: never on which one matched or where a
// guess differs.
std::optional<std::string> match_token(const std::vector<Token>& tokens,
                                       std::string_view presented);

}  // namespace galaxy
