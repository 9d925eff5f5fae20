// galaxy::pg::Conn against the dev PostgreSQL (GALAXY_POSTGRES_URL): pipelines, the prepared
// statement cache, SQLSTATE as data, rollback after a failed transaction, and deadlines that
// close the connection and end the abandoned statement on the server.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "galaxy/pg/conn.hpp"
#include "galaxy/testsupport/http.hpp"
#include "galaxy/testsupport/net.hpp"
#include "galaxy/testsupport/wait.hpp"

namespace galaxy::pg {
namespace {

using namespace std::chrono_literals;

std::string app_name(const char* what) {
  return std::string("galaxy-pg-itest-") + what + "-" + std::to_string(::getpid());
}

Conn open_dev(const std::string& application = "galaxy-pg-itest",
              std::chrono::milliseconds io_timeout = 10s,
              std::chrono::milliseconds statement_timeout = 10s) {
  ConnectSettings settings;
  settings.application_name = application;
  settings.statement_timeout = statement_timeout;
  auto target = parse_target(testsupport::require_env("GALAXY_POSTGRES_URL"), settings);
  if (!target) {
    throw std::runtime_error(target.error().message());
  }
  auto c = Conn::open(*target, io_timeout);
  if (!c) {
    throw std::runtime_error(c.error().message());
  }
  return std::move(*c);
}

std::int64_t count(Conn& c, const std::string& sql, std::vector<std::string> params = {}) {
  auto r = c.query({sql, std::move(params)});
  if (!r) {
    throw std::runtime_error(r.error().message());
  }
  return r->integer(0, 0).value();
}

TEST(PgConnIT, APipelineIsOneTransactionWithOneResultPerStatement) {
  auto c = open_dev();
  const std::vector<Query> qs{{"BEGIN", {}},
                              {"CREATE TEMP TABLE t (k text PRIMARY KEY, v bigint)", {}},
                              {"INSERT INTO t VALUES ($1, $2::bigint), ($3, $4::bigint)",
                               {"a", "1", "b", "9007199254740993"}},
                              {"SELECT k, v, NULL::text FROM t ORDER BY k", {}},
                              {"COMMIT", {}}};
  auto r = c.pipeline(qs);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), qs.size());
  const Rows& rows = (*r)[3];
  ASSERT_EQ(rows.size(), 2);
  EXPECT_EQ(rows.columns(), 3);
  EXPECT_EQ(rows.text(0, 0), "a");
  EXPECT_EQ(rows.integer(1, 1).value(), 9007199254740993);
  EXPECT_TRUE(rows.null(0, 2));
  EXPECT_FALSE(rows.integer(0, 0)) << "text is not an integer";
  EXPECT_EQ(rows.integer(0, 0).error().kind, ErrorKind::protocol);
}

TEST(PgConnIT, ASqlErrorIsAServerErrorWithItsSqlstateAndTheConnectionStaysUsable) {
  auto c = open_dev();
  auto r = c.pipeline(std::vector<Query>{{"BEGIN", {}},
                                         {"CREATE TEMP TABLE u (k int)", {}},
                                         {"SELECT 1 / (SELECT count(*) FROM u)", {}},
                                         {"COMMIT", {}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::server);
  EXPECT_EQ(r.error().code, "22012");  // division_by_zero
  EXPECT_TRUE(c.ok());
  // Rolled back, not left aborted ("current transaction is aborted" would fail this) and not
  // committed (the temp table is gone).
  EXPECT_EQ(count(c, "SELECT count(*) FROM pg_class WHERE relname = 'u' AND relpersistence = 't'"),
            0);
}

TEST(PgConnIT, StatementsArePreparedOnceAndAnAbortedPreparationIsNotRemembered) {
  auto c = open_dev();
  const std::string sql = "SELECT $1::bigint + 1";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(count(c, sql, {std::to_string(i)}), i + 1);
  }
  EXPECT_EQ(count(c, "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", {sql}), 1);
  // The first statement fails, so the server skips preparing the second: using its name later
  // would fail with "prepared statement ... does not exist".
  const std::string fresh = "SELECT $1::bigint * 2";
  auto aborted = c.pipeline(std::vector<Query>{{"SELECT 1/0", {}}, {fresh, {"4"}}});
  ASSERT_FALSE(aborted);
  EXPECT_EQ(aborted.error().code, "22012");
  auto again = c.query({fresh, {"4"}});
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->integer(0, 0).value(), 8);
}

TEST(PgConnIT, ADeadlineClosesTheConnectionAndTheServerEndsTheStatement) {
  const std::string name = app_name("deadline");
  // statement_timeout (120 s) and the sleep (60 s) both outlast the wait below: only the client
  // check can end the backend in time.
  auto c = open_dev(name, 300ms, 120s);
  auto r = c.query({"SELECT pg_sleep(60)", {}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::timeout) << r.error().message();
  EXPECT_FALSE(c.ok());
  auto after = c.query({"SELECT 1", {}});
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().kind, ErrorKind::closed);
  // client_connection_check_interval (1 s): the backend notices its client is gone.
  auto watcher = open_dev();
  EXPECT_TRUE(testsupport::eventually(
      [&] {
        return count(watcher, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                     {name}) == 0;
      },
      15s))
      << "the abandoned backend is still running pg_sleep";
}

TEST(PgConnIT, NobodyListeningIsAnIoErrorWithoutThePassword) {
  const auto port = testsupport::free_port();
  auto target = parse_target("postgresql://galaxy:hunter2@127.0.0.1:" + std::to_string(port) +
                             "/x?connect_timeout=2");
  ASSERT_TRUE(target) << target.error().message();
  auto c = Conn::open(*target, 2s);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::io) << c.error().message();
  EXPECT_NE(c.error().reason.find(target->describe), std::string::npos) << c.error().reason;
  EXPECT_EQ(c.error().reason.find("hunter2"), std::string::npos) << c.error().reason;
}

TEST(PgConnIT, MultiStatementTextRunsWithTheSimpleProtocol) {
  auto c = open_dev();
  auto r = c.simple("CREATE TEMP TABLE m (k int); INSERT INTO m VALUES (1), (2);", c.deadline());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(count(c, "SELECT count(*) FROM m"), 2);
  auto bad = c.simple("SELECT 1; SELECT nonsense_column FROM m;", c.deadline());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "42703");  // undefined_column
  EXPECT_TRUE(c.ok());
}

}  // namespace
}  // namespace galaxy::pg
