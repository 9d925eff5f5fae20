#include "galaxy/admin/exposition.hpp"

#include <fmt/format.h>

#include <cassert>
#include <cmath>

namespace galaxy::admin {

namespace {

[[maybe_unused]] bool valid_name(std::string_view n) {
  if (n.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) {
      return false;
    }
  }
  return true;
}

void append_labels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) {
    return;
  }
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    assert(valid_name(k) && !k.starts_with("__"));
    out += first ? "" : ",";
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
    first = false;
  }
  if (!extra_name.empty()) {
    out += first ? "" : ",";
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, std::string_view name, const Labels& labels, double value,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  out += name;
  append_labels(out, labels, extra_name, extra_value);
  out += ' ';
  out += format_value(value);
  out += '\n';
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return fmt::format("{}", static_cast<std::int64_t>(v));
  }
  return fmt::format("{}", v);
}

Exposition::Family& Exposition::family(std::string_view name, std::string_view help,
                                       std::string_view type) {
  assert(valid_name(name));
  for (auto& f : families_) {
    if (f.name == name) {
      assert(f.type == type);
      return f;
    }
  }
  families_.push_back(Family{std::string(name), std::string(help), std::string(type), {}});
  return families_.back();
}

void Exposition::counter(std::string_view name, std::string_view help, double value,
                         const Labels& labels) {
  assert(name.ends_with("_total"));
  append_sample(family(name, help, "counter").samples, name, labels, value);
}

void Exposition::gauge(std::string_view name, std::string_view help, double value,
                       const Labels& labels) {
  append_sample(family(name, help, "gauge").samples, name, labels, value);
}

void Exposition::histogram(std::string_view name, std::string_view help,
                           std::span<const double> upper_bounds,
                           std::span<const std::uint64_t> counts, std::uint64_t count, double sum,
                           const Labels& labels) {
  assert(upper_bounds.size() == counts.size());
  auto& f = family(name, help, "histogram");
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
    cumulative += counts[i];
    append_sample(f.samples, bucket, labels, static_cast<double>(cumulative), "le",
                  format_value(upper_bounds[i]));
  }
  append_sample(f.samples, bucket, labels, static_cast<double>(count), "le", "+Inf");
  append_sample(f.samples, std::string(name) + "_sum", labels, sum);
  append_sample(f.samples, std::string(name) + "_count", labels, static_cast<double>(count));
}

std::string Exposition::text() const {
  std::string out;
  for (const auto& f : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, escape_help(f.help), f.name, f.type);
    out += f.samples;
  }
  return out;
}

}  // namespace galaxy::admin
