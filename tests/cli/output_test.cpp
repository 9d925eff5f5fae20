// What snapshot, hosts and stats print in each output mode, and when output is colored: pure
// functions, no services.
#include "galaxy/cli/output.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "galaxy/cli/commands.hpp"

namespace {

using galaxy::cli::color_enabled;
using galaxy::cli::HostRow;
using galaxy::cli::OutputFormat;
using galaxy::cli::OutputOptions;
using galaxy::cli::parse_output_format;
using galaxy::cli::render_hosts;
using galaxy::cli::render_snapshot;
using galaxy::cli::render_stats;
using galaxy::cli::snapshot_stale;
using galaxy::cli::SnapshotRow;

TEST(ColorEnabled, OnlyOnATerminalAndNeverWithNoColor) {
  EXPECT_TRUE(color_enabled(true, nullptr));
  EXPECT_FALSE(color_enabled(false, nullptr));
  EXPECT_FALSE(color_enabled(true, "1"));
  // no-color.org: any non-empty value, whatever it says.
  EXPECT_FALSE(color_enabled(true, "0"));
  EXPECT_FALSE(color_enabled(true, "false"));
  // ... and an empty one is as if unset.
  EXPECT_TRUE(color_enabled(true, ""));
  EXPECT_FALSE(color_enabled(false, ""));
}

TEST(ParseOutputFormat, TheThreeNamesOnly) {
  EXPECT_EQ(parse_output_format("table"), OutputFormat::table);
  EXPECT_EQ(parse_output_format("wide"), OutputFormat::wide);
  EXPECT_EQ(parse_output_format("json"), OutputFormat::json);
  EXPECT_EQ(parse_output_format("JSON"), std::nullopt);
  EXPECT_EQ(parse_output_format("yaml"), std::nullopt);
  EXPECT_EQ(parse_output_format(""), std::nullopt);
}

std::vector<SnapshotRow> snapshot_rows() {
  return {
      SnapshotRow{"game-1", "7c2b5d1a4f6e0123456789abcdef", "probe_failed", "1775121810000",
                  R"({"last_error": "x"})", "1-0", "7", "2026-04-02T09:23:31.000Z", "host-a",
                  "lost"},
      // Every column NULL but the key, as a row written by hand might be.
      SnapshotRow{"game-2", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                  std::nullopt, std::nullopt, std::nullopt, std::nullopt},
  };
}

OutputOptions as(OutputFormat format, bool headers = true) {
  return OutputOptions{format, headers, false};
}

TEST(RenderSnapshot, TableShowsTheEssentialColumnsAndShortContainerIds) {
  EXPECT_EQ(render_snapshot(snapshot_rows(), as(OutputFormat::table)),
            "GAME    CONTAINER     TYPE          OCCURRED (UTC)            HOST    STALE\n"
            "game-1  7c2b5d1a4f6e  probe_failed  2026-04-02T09:23:30.000Z  host-a  yes\n"
            "game-2  -             -             -                         -       no\n");
}

TEST(RenderSnapshot, WideAddsDetailsStreamIdSeqAndUpdatedWithTheFullContainerId) {
  EXPECT_EQ(render_snapshot(snapshot_rows(), as(OutputFormat::wide)),
            "GAME    CONTAINER                     TYPE          OCCURRED (UTC)            "
            "HOST    STALE  DETAILS              STREAM ID  SEQ  UPDATED (UTC)\n"
            "game-1  7c2b5d1a4f6e0123456789abcdef  probe_failed  2026-04-02T09:23:30.000Z  "
            "host-a  yes    {\"last_error\": \"x\"}  1-0        7    2026-04-02T09:23:31.000Z\n"
            "game-2  -                             -             -                         "
            "-       no     -                    -          -    -\n");
}

TEST(RenderSnapshot, NoHeadersDropsOnlyTheHeaderRow) {
  EXPECT_EQ(render_snapshot(snapshot_rows(), as(OutputFormat::table, false)),
            "game-1  7c2b5d1a4f6e  probe_failed  2026-04-02T09:23:30.000Z  host-a  yes\n"
            "game-2  -             -             -                         -       no\n");
  const auto wide = render_snapshot(snapshot_rows(), as(OutputFormat::wide, false));
  EXPECT_EQ(wide.find("GAME"), std::string::npos) << wide;
  EXPECT_EQ(std::count(wide.begin(), wide.end(), '\n'), 2) << wide;
  // Columns are as wide as their widest cell: "1-0", no longer "STREAM ID".
  EXPECT_NE(wide.find("  1-0  7  2026-04-02T09:23:31.000Z\n"), std::string::npos) << wide;
  EXPECT_EQ(render_snapshot({}, as(OutputFormat::table, false)), "");
  EXPECT_EQ(render_snapshot({}, as(OutputFormat::table)),
            "GAME  CONTAINER  TYPE  OCCURRED (UTC)  HOST  STALE\n");
}

TEST(RenderSnapshot, JsonIsOneObjectPerRowWithTypedValuesAndHeadersIgnored) {
  for (const bool headers : {true, false}) {
    const auto out = render_snapshot(snapshot_rows(), as(OutputFormat::json, headers));
    ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
    const auto first = boost::json::parse(out.substr(0, out.find('\n'))).as_object();
    EXPECT_EQ(first.at("game_id").as_string(), "game-1");
    EXPECT_EQ(first.at("container_id").as_string(), "7c2b5d1a4f6e0123456789abcdef");
    EXPECT_EQ(first.at("occurred_at_ms").as_int64(), 1775121810000);
    EXPECT_EQ(first.at("details").as_object().at("last_error").as_string(), "x");
    EXPECT_EQ(first.at("seq").as_int64(), 7);
    EXPECT_EQ(first.at("updated_at").as_string(), "2026-04-02T09:23:31.000Z");
    EXPECT_EQ(first.at("host_id").as_string(), "host-a");
    EXPECT_EQ(first.at("host_status").as_string(), "lost");
    EXPECT_EQ(first.at("stale").as_bool(), true);
    const auto second = boost::json::parse(out.substr(out.find('\n') + 1)).as_object();
    EXPECT_TRUE(second.at("details").is_null());
    EXPECT_TRUE(second.at("seq").is_null());
    EXPECT_TRUE(second.at("host_id").is_null());
    EXPECT_EQ(second.at("host_status").as_string(), "unknown");
    EXPECT_EQ(second.at("stale").as_bool(), false);
  }
}

SnapshotRow on_host(std::string host_id, std::string host_status) {
  return SnapshotRow{"g",
                     "c",
                     "container_started",
                     "1",
                     "{}",
                     "1-0",
                     "1",
                     "2026-04-02T09:23:31.000Z",
                     std::move(host_id),
                     std::move(host_status)};
}

TEST(RenderSnapshot, StaleOnlyWhenTheHostIsLostOrLeft) {
  EXPECT_FALSE(snapshot_stale(on_host("h", "active")));
  EXPECT_TRUE(snapshot_stale(on_host("h", "lost")));
  EXPECT_TRUE(snapshot_stale(on_host("h", "left")));
  // Written before the fleet release, or a host without a lease row: nothing to judge by.
  EXPECT_FALSE(snapshot_stale(on_host("", "unknown")));
  EXPECT_FALSE(snapshot_stale(on_host("h", "unknown")));
  const std::vector<SnapshotRow> rows{on_host("host-a", "active"), on_host("", "unknown"),
                                      on_host("host-b", "left")};
  EXPECT_EQ(render_snapshot(rows, as(OutputFormat::table, false)),
            "g  c  container_started  1970-01-01T00:00:00.001Z  host-a  no\n"
            "g  c  container_started  1970-01-01T00:00:00.001Z  -       no\n"
            "g  c  container_started  1970-01-01T00:00:00.001Z  host-b  yes\n");
  const auto json = render_snapshot(rows, as(OutputFormat::json));
  EXPECT_NE(json.find(R"("host_id":"","host_status":"unknown","stale":false})"), std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("host_id":"host-b","host_status":"left","stale":true})"),
            std::string::npos)
      << json;
}

TEST(RenderSnapshot, ColorBoldsTheHeaderOnly) {
  const auto out = render_snapshot(snapshot_rows(), OutputOptions{OutputFormat::table, true, true});
  EXPECT_EQ(out.substr(0, 4), "\x1b[1m");
  EXPECT_EQ(out.substr(out.find('\n') + 1).find('\x1b'), std::string::npos);
  EXPECT_EQ(render_snapshot(snapshot_rows(), as(OutputFormat::table)).find('\x1b'),
            std::string::npos);
}

std::vector<HostRow> host_rows() {
  return {
      HostRow{"host-a", "3f2a9c1b7d4e5f60718293a4b5c6d7e8", "node-1", "9d1c2b3a4f5e", "0.2.0",
              "active", "active", true, 3, "2026-04-02T06:00:00.000Z", "2026-04-02T09:23:28.000Z",
              "2026-04-02T09:23:43.000Z", 3200, 12400},
      HostRow{"host-a", "77aa01bc9d3e0000", "node-2", "", "0.2.0", "standby", "standby", false, 0,
              "2026-04-02T08:00:00.000Z", "2026-04-02T09:23:30.000Z", "2026-04-02T09:23:45.000Z",
              999, 14000},
      // Stored active, but its lease ran out 40 s ago (on the database's clock).
      HostRow{"host-b", "b1", "node-3", "4e5f", "0.1.9", "active", "lost", false, 2,
              "2026-04-01T00:00:00.000Z", "2026-04-02T09:22:35.000Z", "2026-04-02T09:22:51.000Z",
              55000, -40000},
      // Timestamps at +-infinity: no time to show.
      HostRow{"host-c", "c1", "node-4", "", "0.2.0", "left", "left", false, 5, std::nullopt,
              std::nullopt, std::nullopt, std::nullopt, std::nullopt},
  };
}

TEST(RenderHosts, TableShowsStatusShortDaemonHolderAgesAndLease) {
  EXPECT_EQ(render_hosts(host_rows(), as(OutputFormat::table)),
            "HOST    STATUS   DAEMON         HOSTNAME  VERSION  HEARTBEAT  LEASE\n"
            "host-a  active   3f2a9c1b7d4e*  node-1    0.2.0    3s ago     12s\n"
            "host-a  standby  77aa01bc9d3e   node-2    0.2.0    0s ago     14s\n"
            "host-b  lost     b1             node-3    0.1.9    55s ago    expired 40s ago\n"
            "host-c  left     c1             node-4    0.2.0    -          -\n");
}

TEST(RenderHosts, WideAddsDockerIdEpochStartedAndTheFullDaemonId) {
  EXPECT_EQ(render_hosts(host_rows(), as(OutputFormat::wide)),
            "HOST    STATUS   DAEMON         HOSTNAME  VERSION  HEARTBEAT  LEASE            "
            "DOCKER ID     EPOCH  STARTED (UTC)             DAEMON ID\n"
            "host-a  active   3f2a9c1b7d4e*  node-1    0.2.0    3s ago     12s              "
            "9d1c2b3a4f5e  3      2026-04-02T06:00:00.000Z  3f2a9c1b7d4e5f60718293a4b5c6d7e8\n"
            "host-a  standby  77aa01bc9d3e   node-2    0.2.0    0s ago     14s              "
            "-             0      2026-04-02T08:00:00.000Z  77aa01bc9d3e0000\n"
            "host-b  lost     b1             node-3    0.1.9    55s ago    expired 40s ago  "
            "4e5f          2      2026-04-01T00:00:00.000Z  b1\n"
            "host-c  left     c1             node-4    0.2.0    -          -                "
            "-             5      -                         c1\n");
}

TEST(RenderHosts, EmptyIsTheHeaderOnlyOrNothing) {
  EXPECT_EQ(render_hosts({}, as(OutputFormat::table)),
            "HOST  STATUS  DAEMON  HOSTNAME  VERSION  HEARTBEAT  LEASE\n");
  EXPECT_EQ(render_hosts({}, as(OutputFormat::table, false)), "");
  EXPECT_EQ(render_hosts({}, as(OutputFormat::wide, false)), "");
  EXPECT_EQ(render_hosts({}, as(OutputFormat::json)), "[]\n");
  const auto bare = render_hosts(host_rows(), as(OutputFormat::table, false));
  EXPECT_EQ(bare.rfind("host-a  active   3f2a9c1b7d4e*  node-1", 0), 0U) << bare;
  EXPECT_EQ(std::count(bare.begin(), bare.end(), '\n'), 4) << bare;
}

TEST(RenderHosts, AHeartbeatAheadOfTheDatabaseClock) {
  auto rows = host_rows();
  rows.resize(1);
  rows[0].heartbeat_age_ms = -2500;
  rows[0].lease_left_ms = 0;  // runs out now: expired
  EXPECT_EQ(render_hosts(rows, as(OutputFormat::table, false)),
            "host-a  active  3f2a9c1b7d4e*  node-1  0.2.0  in 2s  expired 0s ago\n");
}

TEST(RenderHosts, JsonIsOneArrayOfEveryColumnWithTypedValues) {
  for (const bool headers : {true, false}) {
    const auto out = render_hosts(host_rows(), as(OutputFormat::json, headers));
    ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    const auto doc = boost::json::parse(out).as_array();
    ASSERT_EQ(doc.size(), 4U);
    EXPECT_EQ(
        boost::json::serialize(doc[0]),
        R"({"host_id":"host-a","daemon_id":"3f2a9c1b7d4e5f60718293a4b5c6d7e8",)"
        R"("hostname":"node-1","docker_id":"9d1c2b3a4f5e","version":"0.2.0",)"
        R"("status":"active","stored_status":"active","lease_holder":true,"epoch":3,)"
        R"("started_at":"2026-04-02T06:00:00.000Z","heartbeat_at":"2026-04-02T09:23:28.000Z",)"
        R"("lease_until":"2026-04-02T09:23:43.000Z","heartbeat_age_ms":3200,)"
        R"("lease_left_ms":12400})");
    const auto& lost = doc[2].as_object();
    EXPECT_EQ(lost.at("status").as_string(), "lost");
    EXPECT_EQ(lost.at("stored_status").as_string(), "active");
    EXPECT_EQ(lost.at("lease_left_ms").as_int64(), -40000);
    const auto& left = doc[3].as_object();
    EXPECT_TRUE(left.at("started_at").is_null());
    EXPECT_TRUE(left.at("heartbeat_age_ms").is_null());
    EXPECT_TRUE(left.at("lease_left_ms").is_null());
    EXPECT_EQ(left.at("docker_id").as_string(), "");
  }
}

TEST(RenderHosts, ColorBoldsTheHeaderOnly) {
  const auto out = render_hosts(host_rows(), OutputOptions{OutputFormat::table, true, true});
  EXPECT_EQ(out.substr(0, 4), "\x1b[1m");
  EXPECT_EQ(out.substr(out.find('\n') + 1).find('\x1b'), std::string::npos);
}

boost::json::object stats_doc() {
  return boost::json::parse(R"({
    "stream": "runtime:health_events", "length": 5, "first_entry_id": "1-0",
    "last_entry_id": "5-0", "last_generated_id": "5-0", "entries_added": 9,
    "groups": [
      {"name": "g", "consumers": [{"name": "c1", "pending": 2, "idle_ms": 40}], "pending": 2,
       "last_delivered_id": "2-0", "entries_read": 2, "lag": 3},
      {"name": "idle", "consumers": [], "pending": 0, "last_delivered_id": "0-0",
       "entries_read": null, "lag": null}
    ]})")
      .as_object();
}

TEST(RenderStats, TableIsSummaryGroupsAndConsumers) {
  EXPECT_EQ(render_stats(stats_doc(), as(OutputFormat::table)),
            "STREAM                 LENGTH  FIRST ENTRY  LAST ENTRY  ENTRIES ADDED  GROUPS\n"
            "runtime:health_events  5       1-0          5-0         9              2\n"
            "\n"
            "GROUP  CONSUMERS  PENDING  LAST DELIVERED  LAG\n"
            "g      1          2        2-0             3\n"
            "idle   0          0        0-0             -\n"
            "\n"
            "GROUP  CONSUMER  PENDING  IDLE (ms)\n"
            "g      c1        2        40\n");
}

TEST(RenderStats, WideAddsLastGeneratedAndEntriesRead) {
  EXPECT_EQ(render_stats(stats_doc(), as(OutputFormat::wide)),
            "STREAM                 LENGTH  FIRST ENTRY  LAST ENTRY  ENTRIES ADDED  GROUPS  "
            "LAST GENERATED\n"
            "runtime:health_events  5       1-0          5-0         9              2       5-0\n"
            "\n"
            "GROUP  CONSUMERS  PENDING  LAST DELIVERED  LAG  ENTRIES READ\n"
            "g      1          2        2-0             3    2\n"
            "idle   0          0        0-0             -    -\n"
            "\n"
            "GROUP  CONSUMER  PENDING  IDLE (ms)\n"
            "g      c1        2        40\n");
}

TEST(RenderStats, NoHeadersKeepsTheSectionsApart) {
  EXPECT_EQ(render_stats(stats_doc(), as(OutputFormat::table, false)),
            "runtime:health_events  5  1-0  5-0  9  2\n"
            "\n"
            "g     1  2  2-0  3\n"
            "idle  0  0  0-0  -\n"
            "\n"
            "g  c1  2  40\n");
}

TEST(RenderStats, AStreamWithoutGroups) {
  auto doc = stats_doc();
  doc["groups"] = boost::json::array{};
  EXPECT_EQ(render_stats(doc, as(OutputFormat::table)),
            "STREAM                 LENGTH  FIRST ENTRY  LAST ENTRY  ENTRIES ADDED  GROUPS\n"
            "runtime:health_events  5       1-0          5-0         9              0\n"
            "\n"
            "GROUP  CONSUMERS  PENDING  LAST DELIVERED  LAG\n");
  // Without headers an empty section prints nothing, not even its blank separator line.
  EXPECT_EQ(render_stats(doc, as(OutputFormat::table, false)),
            "runtime:health_events  5  1-0  5-0  9  0\n");
}

TEST(RenderStats, JsonIsTheDocumentOnOneLine) {
  const auto out = render_stats(stats_doc(), as(OutputFormat::json));
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(boost::json::parse(out), boost::json::value(stats_doc()));
}

}  // namespace
