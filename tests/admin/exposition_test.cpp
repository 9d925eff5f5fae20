#include "galaxy/admin/exposition.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>

#include "galaxy/admin/health.hpp"

namespace galaxy::admin {
namespace {

TEST(Exposition, OneHelpAndTypePerFamilyWithItsSamplesTogether) {
  Exposition e;
  e.counter("galaxy_events_emitted_total", "Events emitted.", 3, {{"type", "container_started"}});
  e.gauge("galaxy_up", "Up.", 1);
  e.counter("galaxy_events_emitted_total", "Events emitted.", 4, {{"type", "container_exited"}});
  EXPECT_EQ(e.text(),
            "# HELP galaxy_events_emitted_total Events emitted.\n"
            "# TYPE galaxy_events_emitted_total counter\n"
            "galaxy_events_emitted_total{type=\"container_started\"} 3\n"
            "galaxy_events_emitted_total{type=\"container_exited\"} 4\n"
            "# HELP galaxy_up Up.\n"
            "# TYPE galaxy_up gauge\n"
            "galaxy_up 1\n");
}

TEST(Exposition, LabelValuesAndHelpAreEscaped) {
  Exposition e;
  e.gauge("galaxy_build_info", "Build \\ info\nsecond line.", 1, {{"version", "a\"b\\c\nd"}});
  EXPECT_EQ(e.text(),
            "# HELP galaxy_build_info Build \\\\ info\\nsecond line.\n"
            "# TYPE galaxy_build_info gauge\n"
            "galaxy_build_info{version=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Exposition, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Exposition e;
  const std::array<double, 3> bounds{0.001, 0.01, 0.1};
  const std::array<std::uint64_t, 3> counts{2, 0, 5};
  e.histogram("galaxy_probe_duration_seconds", "Probe duration.", bounds, counts, 9, 0.75,
              {{"result", "ok"}});
  EXPECT_EQ(e.text(),
            "# HELP galaxy_probe_duration_seconds Probe duration.\n"
            "# TYPE galaxy_probe_duration_seconds histogram\n"
            "galaxy_probe_duration_seconds_bucket{result=\"ok\",le=\"0.001\"} 2\n"
            "galaxy_probe_duration_seconds_bucket{result=\"ok\",le=\"0.01\"} 2\n"
            "galaxy_probe_duration_seconds_bucket{result=\"ok\",le=\"0.1\"} 7\n"
            "galaxy_probe_duration_seconds_bucket{result=\"ok\",le=\"+Inf\"} 9\n"
            "galaxy_probe_duration_seconds_sum{result=\"ok\"} 0.75\n"
            "galaxy_probe_duration_seconds_count{result=\"ok\"} 9\n");
}

TEST(Exposition, ValuesAsTheFormatSpellsThem) {
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(format_value(1e20), "1e+20");
}

TEST(Health, AllPassingIsOkUnlessVerbose) {
  const std::vector<Check> checks{{"ping", true, ""}, {"docker-events", true, ""}};
  const auto quiet = render_health("readyz", checks, false);
  EXPECT_EQ(quiet.status, 200U);
  EXPECT_EQ(quiet.body, "ok\n");
  const auto verbose = render_health("readyz", checks, true);
  EXPECT_EQ(verbose.status, 200U);
  EXPECT_EQ(verbose.body, "[+]ping ok\n[+]docker-events ok\nreadyz check passed\n");
}

TEST(Health, AFailingCheckIs503AndListsEveryCheck) {
  const std::vector<Check> checks{
      {"ping", true, ""}, {"postgres", false, "connection refused"}, {"shutdown", false, ""}};
  const auto r = render_health("readyz", checks, false);
  EXPECT_EQ(r.status, 503U);
  EXPECT_EQ(r.body,
            "[+]ping ok\n[-]postgres failed: connection refused\n[-]shutdown failed: not ready\n"
            "readyz check failed\n");
}

}  // namespace
}  // namespace galaxy::admin
