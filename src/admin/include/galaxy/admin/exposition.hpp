// The Prometheus text exposition format, version 0.0.4, written by hand: no packaged C++
// Prometheus client fits (Debian's prometheus-cpp brings civetweb as its HTTP server, and the
// daemon already serves HTTP with Beast on its own loop). Only what we expose is supported:
// counters, gauges and histograms, with label values escaped as the format says.
//
// A family (one HELP and TYPE line) is written once however many samples it has, and its samples
// stay together, as the format requires; families appear in the order first added.
// Not thread-safe: build one per scrape.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace galaxy::admin {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Exposition {
 public:
  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]* (checked by assertion: they are constants in our
  // code); a counter's name ends in _total.
  void counter(std::string_view name, std::string_view help, double value,
               const Labels& labels = {});
  void gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  // `upper_bounds` ascending, without +Inf; `counts[i]` is the number of observations <=
  // upper_bounds[i] and above the previous bound (not cumulative: this writes the cumulative
  // buckets and +Inf); `count` includes observations above the last bound.
  void histogram(std::string_view name, std::string_view help, std::span<const double> upper_bounds,
                 std::span<const std::uint64_t> counts, std::uint64_t count, double sum,
                 const Labels& labels = {});

  std::string text() const;

  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Family {
    std::string name;
    std::string help;
    std::string type;
    std::string samples;
  };
  Family& family(std::string_view name, std::string_view help, std::string_view type);

  std::vector<Family> families_;
};

// A label value or HELP text with \, " and newline escaped (HELP escapes no quotes).
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// A sample value: integers without a fraction, +Inf/-Inf/NaN as the format spells them.
std::string format_value(double v);

}  // namespace galaxy::admin
