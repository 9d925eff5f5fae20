#include "galaxy/pg/conn.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "galaxy/common/redact.hpp"

namespace galaxy::pg {

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Named statements, parsed and planned once per connection: for the few small statements of a
// commit, parsing and planning each time took half of the transaction's time (pgbench on the
// publisher's SQL: 0.95-0.97 ms per one-event transaction with -M extended, 0.41-0.49 ms
// prepared). Every SQL text in the tree is a constant, so the cap is only a guard.
constexpr std::size_t kMaxPrepared = 64;

}  // namespace

// ---- Rows ----

Rows::Rows(pg_result* result) : result_(result) {}
Rows::Rows(Rows&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
Rows& Rows::operator=(Rows&& other) noexcept {
  if (this != &other) {
    PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}
Rows::~Rows() {
  PQclear(result_);
}

int Rows::size() const {
  return result_ != nullptr ? PQntuples(result_) : 0;
}

int Rows::columns() const {
  return result_ != nullptr ? PQnfields(result_) : 0;
}

bool Rows::null(int row, int column) const {
  return PQgetisnull(result_, row, column) == 1;
}

std::string_view Rows::text(int row, int column) const {
  return {PQgetvalue(result_, row, column),
          static_cast<std::size_t>(PQgetlength(result_, row, column))};
}

Result<std::int64_t> Rows::integer(int row, int column) const {
  const auto t = text(row, column);
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
    return make_error(ErrorKind::protocol, "postgres",
                      "column " + std::to_string(column) + " is not an integer");
  }
  return v;
}

// ---- Conn ----

struct Conn::State {
  PGconn* c = nullptr;
  std::string password;
  std::unordered_map<std::string, std::string> prepared;  // SQL text -> statement name
  std::uint64_t next_statement = 0;

  ~State() { close(); }
  void close() {
    if (c != nullptr) {
      PQfinish(c);
      c = nullptr;
    }
  }

  std::string message(const PGresult* r = nullptr) const {
    const char* m =
        r != nullptr ? PQresultErrorMessage(r) : (c != nullptr ? PQerrorMessage(c) : "");
    const std::array<std::string, 1> secrets{password};
    return scrub(trim(m != nullptr ? m : ""), secrets);
  }

  // Waits until the socket is ready for `events`, or the deadline.
  Result<void> wait(short events, Deadline dl) const {
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(dl - SteadyClock::now());
      if (left.count() <= 0) {
        return make_error(ErrorKind::timeout, "postgres", "no answer within the deadline");
      }
      pollfd p{PQsocket(c), events, 0};
      const int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n > 0) {
        return {};
      }
      if (n < 0 && errno != EINTR) {
        return make_error(ErrorKind::io, "postgres",
                          "poll: " + std::error_code(errno, std::generic_category()).message());
      }
    }
  }

  Result<void> flush(Deadline dl) const {
    for (;;) {
      const int r = PQflush(c);
      if (r == 0) {
        return {};
      }
      if (r < 0) {
        return make_error(ErrorKind::io, "postgres", "cannot send: " + message());
      }
      if (auto w = wait(POLLIN | POLLOUT, dl); !w) {
        return w.error();
      }
      // The server may answer while we still send; reading keeps it from blocking on us.
      if (PQconsumeInput(c) != 1) {
        return make_error(ErrorKind::closed, "postgres", "connection lost: " + message());
      }
    }
  }

  // The next result, or nullptr at the end of a query's results.
  Result<PGresult*> next(Deadline dl) const {
    for (;;) {
      if (PQconsumeInput(c) != 1) {
        return make_error(ErrorKind::closed, "postgres", "connection lost: " + message());
      }
      if (PQisBusy(c) == 0) {
        return PQgetResult(c);
      }
      if (auto w = wait(POLLIN, dl); !w) {
        return w.error();
      }
    }
  }
};

Conn::Conn(std::unique_ptr<State> state, std::string describe, std::chrono::milliseconds io_timeout)
    : state_(std::move(state)), describe_(std::move(describe)), io_timeout_(io_timeout) {}
Conn::Conn(Conn&&) noexcept = default;
Conn& Conn::operator=(Conn&&) noexcept = default;
Conn::~Conn() = default;

bool Conn::ok() const {
  return state_ && state_->c != nullptr && PQstatus(state_->c) == CONNECTION_OK;
}

Error Conn::fail(ErrorKind kind, std::string_view what) {
  // After a deadline or a lost peer the protocol state is unknown: nothing more is sent on it.
  if (kind == ErrorKind::timeout || kind == ErrorKind::closed || kind == ErrorKind::io ||
      kind == ErrorKind::protocol) {
    state_->close();
  }
  return make_error(kind, "postgres", std::string(what));
}

Result<Conn> Conn::open(const Target& target, std::chrono::milliseconds io_timeout) {
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [k, v] : target.params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  auto state = std::make_unique<State>();
  state->password = target.password;
  state->c = PQconnectStartParams(keys.data(), values.data(), 0);
  if (state->c == nullptr) {
    return make_error(ErrorKind::io, "postgres", "out of memory");
  }
  const std::string where = "cannot connect to " + target.describe + ": ";
  if (PQstatus(state->c) == CONNECTION_BAD) {
    return make_error(ErrorKind::io, "postgres", where + state->message());
  }
  const Deadline dl = SteadyClock::now() + target.connect_timeout;
  for (PostgresPollingStatusType st = PGRES_POLLING_WRITING;;) {
    if (st == PGRES_POLLING_OK) {
      break;
    }
    if (st == PGRES_POLLING_FAILED) {
      return make_error(ErrorKind::io, "postgres", where + state->message());
    }
    if (auto w = state->wait(st == PGRES_POLLING_READING ? POLLIN : POLLOUT, dl); !w) {
      return make_error(w.error().kind, "postgres", where + w.error().reason);
    }
    st = PQconnectPoll(state->c);
  }
  // Server notices ("relation already exists, skipping") are not for the daemon's stderr.
  PQsetNoticeProcessor(
      state->c, [](void* /*arg*/, const char* msg) { spdlog::debug("postgres: {}", trim(msg)); },
      nullptr);
  if (PQsetnonblocking(state->c, 1) != 0) {
    return make_error(ErrorKind::io, "postgres", where + "cannot make the connection non-blocking");
  }
  return Conn(std::move(state), target.describe, io_timeout);
}

Result<std::vector<Rows>> Conn::pipeline(std::span<const Query> queries) {
  return pipeline(queries, deadline());
}

Result<std::vector<Rows>> Conn::pipeline(std::span<const Query> queries, Deadline dl) {
  if (!ok()) {
    return make_error(ErrorKind::closed, "postgres", "not connected to " + describe_);
  }
  State& s = *state_;
  if (PQenterPipelineMode(s.c) != 1) {
    return fail(ErrorKind::protocol, "cannot enter pipeline mode: " + s.message());
  }
  // Statements this pipeline prepares, and for every result it will return, which of them it
  // prepared (nullopt: a statement's own result). A preparation is remembered only once its
  // result says it succeeded: in a pipeline aborted before it ran, it never happened.
  std::vector<std::pair<const std::string*, std::string>> preparing;
  std::vector<std::optional<std::size_t>> answers;
  for (const auto& q : queries) {
    std::vector<const char*> vals;
    vals.reserve(q.params.size());
    for (const auto& p : q.params) {
      vals.push_back(p.c_str());
    }
    const int n = static_cast<int>(vals.size());
    const std::string* name = nullptr;
    if (const auto it = s.prepared.find(q.sql); it != s.prepared.end()) {
      name = &it->second;
    } else if (const auto pit = std::find_if(preparing.begin(), preparing.end(),
                                             [&](const auto& p) { return *p.first == q.sql; });
               pit != preparing.end()) {
      name = &pit->second;
    } else if (s.prepared.size() + preparing.size() < kMaxPrepared) {
      preparing.emplace_back(&q.sql, "galaxy_" + std::to_string(s.next_statement++));
      name = &preparing.back().second;
      if (PQsendPrepare(s.c, name->c_str(), q.sql.c_str(), n, nullptr) != 1) {
        return fail(ErrorKind::io, "cannot send a statement: " + s.message());
      }
      answers.emplace_back(preparing.size() - 1);
    }
    const int sent =
        name != nullptr
            ? PQsendQueryPrepared(s.c, name->c_str(), n, vals.data(), nullptr, nullptr, 0)
            : PQsendQueryParams(s.c, q.sql.c_str(), n, nullptr, vals.data(), nullptr, nullptr, 0);
    if (sent != 1) {
      return fail(ErrorKind::io, "cannot send a statement: " + s.message());
    }
    answers.emplace_back();
  }
  if (PQpipelineSync(s.c) != 1) {
    return fail(ErrorKind::io, "cannot send a pipeline sync: " + s.message());
  }
  if (auto f = s.flush(dl); !f) {
    return fail(f.error().kind, f.error().reason);
  }
  std::vector<Rows> out;
  out.reserve(queries.size());
  std::optional<Error> first;
  int nulls = 0;
  std::size_t answered = 0;
  for (;;) {
    auto r = s.next(dl);
    if (!r) {
      return fail(r.error().kind, r.error().reason);
    }
    if (*r == nullptr) {
      // Each statement's results end with a null; two in a row without a sync is a broken peer.
      if (++nulls > 2) {
        return fail(ErrorKind::protocol, "pipeline ended without its sync");
      }
      continue;
    }
    nulls = 0;
    ResultPtr res(*r);
    const auto st = PQresultStatus(res.get());
    if (st == PGRES_PIPELINE_SYNC) {
      break;
    }
    const auto prepared = answered < answers.size() ? answers[answered] : std::nullopt;
    ++answered;
    if (prepared && st == PGRES_COMMAND_OK) {
      auto& [sql, name] = preparing[*prepared];
      s.prepared.emplace(*sql, std::move(name));
      continue;
    }
    if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
      if (!first) {
        const char* state = PQresultErrorField(res.get(), PG_DIAG_SQLSTATE);
        first = make_error(ErrorKind::server, "postgres", s.message(res.get()),
                           state != nullptr ? state : "");
      }
    } else if (st != PGRES_PIPELINE_ABORTED && !prepared) {
      out.emplace_back(res.release());
    }
  }
  if (PQexitPipelineMode(s.c) != 1) {
    return fail(ErrorKind::protocol, "cannot leave pipeline mode: " + s.message());
  }
  if (first) {
    // An explicit transaction stays open (aborted) past the sync: end it here so the connection
    // can be used again.
    if (PQtransactionStatus(s.c) != PQTRANS_IDLE) {
      if (auto rb = simple("ROLLBACK", dl); !rb) {
        return rb.error();
      }
    }
    return *first;
  }
  if (out.size() != queries.size()) {
    return fail(ErrorKind::protocol, "a pipeline of " + std::to_string(queries.size()) +
                                         " statements returned " + std::to_string(out.size()) +
                                         " results");
  }
  return out;
}

Result<Rows> Conn::query(const Query& q) {
  return query(q, deadline());
}

Result<Rows> Conn::query(const Query& q, Deadline dl) {
  auto r = pipeline(std::span<const Query>(&q, 1), dl);
  if (!r) {
    return r.error();
  }
  return std::move(r->front());
}

Result<void> Conn::simple(std::string_view sql, Deadline dl) {
  if (!ok()) {
    return make_error(ErrorKind::closed, "postgres", "not connected to " + describe_);
  }
  State& s = *state_;
  const std::string text(sql);
  if (PQsendQuery(s.c, text.c_str()) != 1) {
    return fail(ErrorKind::io, "cannot send a statement: " + s.message());
  }
  if (auto f = s.flush(dl); !f) {
    return fail(f.error().kind, f.error().reason);
  }
  std::optional<Error> first;
  for (;;) {
    auto r = s.next(dl);
    if (!r) {
      return fail(r.error().kind, r.error().reason);
    }
    if (*r == nullptr) {
      break;
    }
    ResultPtr res(*r);
    const auto st = PQresultStatus(res.get());
    if ((st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) && !first) {
      const char* state = PQresultErrorField(res.get(), PG_DIAG_SQLSTATE);
      first = make_error(ErrorKind::server, "postgres", s.message(res.get()),
                         state != nullptr ? state : "");
    }
  }
  if (first) {
    return *first;
  }
  return {};
}

}  // namespace galaxy::pg
