// Result types: a value, or an error that says what kind of failure it was, where (a JSON pointer,
// an entry field, or the backend: "redis", "postgres", "docker") and why. Exceptions are kept for
// start-up and configuration.
#pragma once

#include <boost/system/result.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace galaxy {

// What a caller can do about an error differs by kind: retry after io/timeout/closed, reconnect
// after closed/protocol, give up on invalid, look at `code` for server.
enum class ErrorKind : std::uint8_t {
  invalid,   // bad input or configuration: retrying the same thing fails the same way
  io,        // could not connect, refused, reset, DNS: the peer may come back
  timeout,   // a deadline passed; the peer may still be working on it
  closed,    // the peer closed the connection (EOF)
  protocol,  // the peer's answer could not be understood; the connection is not reusable
  server,    // the peer answered with an error (SQLSTATE, Redis error code, HTTP status in code)
};

std::string_view to_string(ErrorKind kind);

struct Error {
  // Not an aggregate on purpose: C++20 parenthesized aggregate init would make Error constructible
  // from one std::string, and Result<std::string>{"text"} ambiguous between value and error.
  Error() = default;
  // An input error: the kind most parsers and validators return.
  Error(std::string p, std::string r) : path(std::move(p)), reason(std::move(r)) {}
  Error(ErrorKind k, std::string p, std::string r, std::string c = {})
      : kind(k), path(std::move(p)), reason(std::move(r)), code(std::move(c)) {}

  ErrorKind kind = ErrorKind::invalid;
  std::string path;    // "/details/exit_code", "/" for the whole input, an entry field name, or
                       // the backend ("redis", "postgres", "docker")
  std::string reason;  // operator-readable, never contains secrets
  std::string code;    // server errors: SQLSTATE ("40001"), Redis error prefix ("NOSCRIPT")
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

inline Error make_error(ErrorKind kind, std::string path, std::string reason,
                        std::string code = {}) {
  return Error{kind, std::move(path), std::move(reason), std::move(code)};
}

// True for the kinds after which the same call may succeed later (io, timeout, closed).
inline bool transient(const Error& e) {
  return e.kind == ErrorKind::io || e.kind == ErrorKind::timeout || e.kind == ErrorKind::closed;
}

}  // namespace galaxy
