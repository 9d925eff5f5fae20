// One PostgreSQL connection over libpq, for everything that talks to PostgreSQL (the durable
// sink's writer and relay, the CLI's snapshot, the lifecycle records).
//
// Every call has a deadline: open() waits at most the target's connect_timeout (a non-blocking
// connect polled here: libpq ignores connect_timeout for those), and each round trip at most the
// io_timeout given to open() or the deadline given to the call. A connection whose call ran out of
// time, or whose peer went away, is closed: ok() is false and every later call fails fast with
// kind `closed`; the caller opens a new one. The server's statement_timeout and
// client_connection_check_interval (galaxy/pg/target.hpp) end the abandoned statement there.
//
// Errors: Error{kind, "postgres", reason, code}. kind is io (could not connect or send), timeout,
// closed, protocol (an answer we did not expect) or server (SQL failed; code is the SQLSTATE).
// Reasons never contain the password: libpq's messages are scrubbed of it.
//
// Not thread-safe: one thread uses a Conn at a time. Movable.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/common/result.hpp"
#include "galaxy/pg/target.hpp"

struct pg_conn;
struct pg_result;

namespace galaxy::pg {

using Deadline = std::chrono::steady_clock::time_point;

// A statement and its text parameters ($1, $2, ...). Statements are prepared once per connection
// and run by name afterwards.
struct Query {
  std::string sql;
  std::vector<std::string> params;
};

// The rows of one statement's result. Cells are text, as libpq gives them.
class Rows {
 public:
  explicit Rows(pg_result* result);
  Rows(Rows&&) noexcept;
  Rows& operator=(Rows&&) noexcept;
  ~Rows();

  int size() const;
  int columns() const;
  bool null(int row, int column) const;
  // Views into the result, valid while this Rows lives; "" for NULL.
  std::string_view text(int row, int column) const;
  // The cell as a 64-bit integer; an Error of kind protocol when it is not one.
  Result<std::int64_t> integer(int row, int column) const;

 private:
  pg_result* result_ = nullptr;
};

class Conn {
 public:
  // Connects within target.connect_timeout. Throws nothing.
  static Result<Conn> open(const Target& target, std::chrono::milliseconds io_timeout);

  Conn(Conn&&) noexcept;
  Conn& operator=(Conn&&) noexcept;
  ~Conn();

  bool ok() const;
  Deadline deadline() const { return std::chrono::steady_clock::now() + io_timeout_; }

  // Runs the statements as one pipeline (one round trip) and returns one Rows per statement, or
  // the first statement's error (later ones are then skipped by the server: a pipeline that
  // holds BEGIN ... COMMIT is one transaction). A transaction left open by a failed statement is
  // rolled back before returning, so the connection stays usable.
  Result<std::vector<Rows>> pipeline(std::span<const Query> queries);
  Result<std::vector<Rows>> pipeline(std::span<const Query> queries, Deadline deadline);

  // One statement, its own round trip.
  Result<Rows> query(const Query& q);
  Result<Rows> query(const Query& q, Deadline deadline);

  // SQL text that may hold several statements and no parameters (the simple query protocol:
  // migrations need it).
  Result<void> simple(std::string_view sql, Deadline deadline);

 private:
  struct State;
  explicit Conn(std::unique_ptr<State> state, std::string describe,
                std::chrono::milliseconds io_timeout);
  Error fail(ErrorKind kind, std::string_view what);

  std::unique_ptr<State> state_;
  std::string describe_;
  std::chrono::milliseconds io_timeout_{};
};

}  // namespace galaxy::pg
