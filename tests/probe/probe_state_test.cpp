#include <gtest/gtest.h>

#include <stdexcept>

#include "galaxy/probe/state_machine.hpp"
#include "galaxy/probe/types.hpp"

namespace galaxy::probe {
namespace {

using contract::Details;
using contract::ProbeFailed;
using contract::ProbeRecovered;

ProbeResult response(int status) {
  ProbeResult r;
  r.status = status;
  return r;
}
ProbeResult ok(int status = 200) {
  return response(status);
}
ProbeResult http_failure(int status) {
  return response(status);
}
ProbeResult no_response(std::string error) {
  ProbeResult r;
  r.error = std::move(error);
  return r;
}

TEST(ProbeStateMachine, EmitsProbeFailedOnceWhenTheRunReachesTheThreshold) {
  ProbeStateMachine m;
  EXPECT_EQ(m.observe(http_failure(500)), std::nullopt);
  EXPECT_EQ(m.observe(http_failure(503)), std::nullopt);
  EXPECT_EQ(m.observe(no_response("connection refused")),
            Details(ProbeFailed{3, 0, "connection refused"}));
  EXPECT_TRUE(m.failing());
  EXPECT_EQ(m.observe(http_failure(500)), std::nullopt);
  EXPECT_EQ(m.observe(http_failure(500)), std::nullopt);
  EXPECT_EQ(m.consecutive_failures(), 5);
}

TEST(ProbeStateMachine, LastStatusAndErrorComeFromTheDecidingAttempt) {
  ProbeStateMachine m;
  m.observe(no_response("connection refused"));
  m.observe(no_response("timeout after 1000ms waiting for response head"));
  EXPECT_EQ(m.observe(http_failure(404)), Details(ProbeFailed{3, 404, ""}));
}

TEST(ProbeStateMachine, RecoveredCarriesTheWholeRun) {
  ProbeStateMachine m;
  for (int i = 0; i < 7; ++i) {
    m.observe(http_failure(500));
  }
  EXPECT_EQ(m.observe(ok()), Details(ProbeRecovered{7}));
  EXPECT_FALSE(m.failing());
  EXPECT_EQ(m.observe(ok()), std::nullopt);
}

TEST(ProbeStateMachine, SuccessBelowTheFailureThresholdResetsSilently) {
  ProbeStateMachine m;
  m.observe(http_failure(500));
  m.observe(http_failure(500));
  EXPECT_EQ(m.observe(ok()), std::nullopt);
  EXPECT_EQ(m.consecutive_failures(), 0);
  EXPECT_EQ(m.observe(http_failure(500)), std::nullopt);
  EXPECT_EQ(m.observe(http_failure(500)), std::nullopt);
  EXPECT_EQ(m.observe(http_failure(500)), Details(ProbeFailed{3, 500, ""}));
}

TEST(ProbeStateMachine, RedirectsAndOtherThreeHundredsAreSuccesses) {
  ProbeStateMachine m({.failure = 1, .success = 1});
  EXPECT_EQ(m.observe(ok(302)), std::nullopt);
  EXPECT_EQ(m.observe(ok(399)), std::nullopt);
  EXPECT_EQ(m.observe(http_failure(400)), Details(ProbeFailed{1, 400, ""}));
  EXPECT_EQ(m.observe(ok(301)), Details(ProbeRecovered{1}));
  EXPECT_EQ(m.observe(http_failure(199)), Details(ProbeFailed{1, 199, ""}));
}

TEST(ProbeStateMachine, SuccessThresholdAboveOneNeedsAStreak) {
  ProbeStateMachine m({.failure = 3, .success = 2});
  for (int i = 0; i < 3; ++i) {
    m.observe(http_failure(500));
  }
  EXPECT_EQ(m.observe(ok()), std::nullopt);               // 1 of 2
  EXPECT_EQ(m.observe(http_failure(500)), std::nullopt);  // streak broken, still failing
  EXPECT_EQ(m.observe(ok()), std::nullopt);
  EXPECT_EQ(m.observe(ok()), Details(ProbeRecovered{4}));
}

TEST(ProbeStateMachine, ResetStartsAFreshRunAndEndsTheEpisodeSilently) {
  ProbeStateMachine m;
  for (int i = 0; i < 3; ++i) {
    m.observe(http_failure(500));
  }
  ASSERT_TRUE(m.failing());
  m.reset();
  EXPECT_FALSE(m.failing());
  EXPECT_EQ(m.observe(ok()), std::nullopt);  // no probe_recovered for the old episode
  m.observe(http_failure(500));
  m.observe(http_failure(500));
  EXPECT_EQ(m.observe(http_failure(502)), Details(ProbeFailed{3, 502, ""}));
}

TEST(ProbeStateMachine, ThresholdOfOneFailsAtTheFirstFailure) {
  ProbeStateMachine m({.failure = 1, .success = 1});
  EXPECT_EQ(m.observe(no_response("connection reset")),
            Details(ProbeFailed{1, 0, "connection reset"}));
}

TEST(ProbeStateMachine, RejectsThresholdsBelowOne) {
  EXPECT_THROW(ProbeStateMachine({.failure = 0, .success = 1}), std::invalid_argument);
  EXPECT_THROW(ProbeStateMachine({.failure = 3, .success = 0}), std::invalid_argument);
}

}  // namespace
}  // namespace galaxy::probe

namespace galaxy::probe {
namespace {

TEST(ProbeOutcome, ClassifiesByStatusTheDeadlineAndTheSocketError) {
  ProbeResult ok;
  ok.status = 204;
  EXPECT_EQ(classify(ok), ProbeOutcome::ok);
  ProbeResult bad;
  bad.status = 503;
  EXPECT_EQ(classify(bad), ProbeOutcome::http_error);
  ProbeResult late;
  late.error = "timeout after 1000ms waiting for connect";
  late.timed_out = true;
  EXPECT_EQ(classify(late), ProbeOutcome::timeout);
  ProbeResult refused;
  refused.error = "connection refused";
  EXPECT_EQ(classify(refused), ProbeOutcome::refused);
  ProbeResult reset;
  reset.error = "connection reset";
  EXPECT_EQ(classify(reset), ProbeOutcome::error);
  EXPECT_EQ(to_string(ProbeOutcome::http_error), "http_error");
}

}  // namespace
}  // namespace galaxy::probe
