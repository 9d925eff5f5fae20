// Result types for parsing and codecs: a value, or an error that names where (a JSON pointer or
// an entry field) and why. Exceptions are kept for start-up and configuration.
#pragma once

#include <boost/system/result.hpp>
#include <stdexcept>
#include <string>
#include <utility>

namespace galaxy {

struct Error {
  // Not an aggregate on purpose: C++20 parenthesized aggregate init would make Error constructible
  // from one std::string, and Result<std::string>{"text"} ambiguous between value and error.
  Error() = default;
  Error(std::string p, std::string r) : path(std::move(p)), reason(std::move(r)) {}

  std::string path;    // "/details/exit_code", "/" for the whole input, or an entry field name
  std::string reason;  // operator-readable, never contains secrets
  std::string message() const { return path + ": " + reason; }
  bool operator==(const Error&) const = default;
};

class ErrorException : public std::runtime_error {
 public:
  explicit ErrorException(Error e) : std::runtime_error(e.message()), error_(std::move(e)) {}
  const Error& error() const { return error_; }

 private:
  Error error_;
};

// Found by ADL from boost::system::result<T, Error>::value() when it holds an error.
[[noreturn]] inline void throw_exception_from_error(const Error& e,
                                                    const boost::source_location& /*where*/) {
  throw ErrorException(e);
}

template <class T>
using Result = boost::system::result<T, Error>;

inline Error make_error(std::string path, std::string reason) {
  return Error{std::move(path), std::move(reason)};
}

}  // namespace galaxy
