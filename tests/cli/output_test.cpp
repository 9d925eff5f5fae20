// What snapshot and stats print in each output mode, and when output is colored: pure functions,
// no services.
#include "galaxy/cli/output.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "galaxy/cli/commands.hpp"

namespace {

using galaxy::cli::color_enabled;
using galaxy::cli::OutputFormat;
using galaxy::cli::OutputOptions;
using galaxy::cli::parse_output_format;
using galaxy::cli::render_snapshot;
using galaxy::cli::render_stats;
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
                  R"({"last_error": "x"})", "1-0", "7", "2026-04-02T09:23:31.000Z"},
      // Every column NULL but the key, as a row written by hand might be.
      SnapshotRow{"game-2", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                  std::nullopt, std::nullopt},
  };
}

OutputOptions as(OutputFormat format, bool headers = true) {
  return OutputOptions{format, headers, false};
}

TEST(RenderSnapshot, TableShowsTheEssentialColumnsAndShortContainerIds) {
  EXPECT_EQ(render_snapshot(snapshot_rows(), as(OutputFormat::table)),
            "GAME    CONTAINER     TYPE          OCCURRED (UTC)\n"
            "game-1  7c2b5d1a4f6e  probe_failed  2026-04-02T09:23:30.000Z\n"
            "game-2  -             -             -\n");
}

TEST(RenderSnapshot, WideAddsDetailsStreamIdSeqAndUpdatedWithTheFullContainerId) {
  EXPECT_EQ(render_snapshot(snapshot_rows(), as(OutputFormat::wide)),
            "GAME    CONTAINER                     TYPE          OCCURRED (UTC)            "
            "DETAILS              STREAM ID  SEQ  UPDATED (UTC)\n"
            "game-1  7c2b5d1a4f6e0123456789abcdef  probe_failed  2026-04-02T09:23:30.000Z  "
            "{\"last_error\": \"x\"}  1-0        7    2026-04-02T09:23:31.000Z\n"
            "game-2  -                             -             -                         "
            "-                    -          -    -\n");
}

TEST(RenderSnapshot, NoHeadersDropsOnlyTheHeaderRow) {
  EXPECT_EQ(render_snapshot(snapshot_rows(), as(OutputFormat::table, false)),
            "game-1  7c2b5d1a4f6e  probe_failed  2026-04-02T09:23:30.000Z\n"
            "game-2  -             -             -\n");
  const auto wide = render_snapshot(snapshot_rows(), as(OutputFormat::wide, false));
  EXPECT_EQ(wide.find("GAME"), std::string::npos) << wide;
  EXPECT_EQ(std::count(wide.begin(), wide.end(), '\n'), 2) << wide;
  // Columns are as wide as their widest cell: "1-0", no longer "STREAM ID".
  EXPECT_NE(wide.find("  1-0  7  2026-04-02T09:23:31.000Z\n"), std::string::npos) << wide;
  EXPECT_EQ(render_snapshot({}, as(OutputFormat::table, false)), "");
  EXPECT_EQ(render_snapshot({}, as(OutputFormat::table)),
            "GAME  CONTAINER  TYPE  OCCURRED (UTC)\n");
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
    const auto second = boost::json::parse(out.substr(out.find('\n') + 1)).as_object();
    EXPECT_TRUE(second.at("details").is_null());
    EXPECT_TRUE(second.at("seq").is_null());
  }
}

TEST(RenderSnapshot, ColorBoldsTheHeaderOnly) {
  const auto out = render_snapshot(snapshot_rows(), OutputOptions{OutputFormat::table, true, true});
  EXPECT_EQ(out.substr(0, 4), "\x1b[1m");
  EXPECT_EQ(out.substr(out.find('\n') + 1).find('\x1b'), std::string::npos);
  EXPECT_EQ(render_snapshot(snapshot_rows(), as(OutputFormat::table)).find('\x1b'),
            std::string::npos);
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
