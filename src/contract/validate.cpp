#include "galaxy/contract/validate.hpp"

#include <boost/json/serialize.hpp>

#include "galaxy/common/utf8.hpp"
#include "galaxy/contract/strict_json.hpp"

namespace galaxy::contract {

namespace {

using strict::JsonKind;

std::size_t line_bound(const ValidateOptions& o) {
  // An entry line carries five fields, each within max_bytes; JSON escaping can double them.
  return o.format == InputFormat::payload ? o.limits.max_bytes : 10 * o.limits.max_bytes + 1024;
}

// Reads one line into `line`, keeping at most `bound` + 1 bytes so an endless line cannot exhaust
// memory; returns the line's full length, or nothing at end of input.
std::optional<std::size_t> read_bounded_line(std::istream& in, std::string& line,
                                             std::size_t bound) {
  line.clear();
  std::streambuf* buf = in.rdbuf();
  std::size_t length = 0;
  bool any = false;
  for (;;) {
    const int c = buf->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      break;
    }
    any = true;
    if (c == '\n') {
      break;
    }
    if (length <= bound) {
      line.push_back(static_cast<char>(c));
    }
    ++length;
  }
  if (!any) {
    return std::nullopt;
  }
  if (length <= bound && !line.empty() && line.back() == '\r') {
    line.pop_back();  // CRLF files
    --length;
  }
  return length;
}

std::string escape_for_text(std::string_view s) {
  // Paths can quote input keys; keep one result per output line whatever they hold.
  std::string out;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[(static_cast<unsigned char>(c) >> 4) & 0xf]);
      out.push_back(kHex[static_cast<unsigned char>(c) & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string json_string(std::string_view s) {
  if (!is_valid_utf8(s)) {
    return json_string(escape_for_text(s));  // still not UTF-8: replace raw bytes below
  }
  return boost::json::serialize(boost::json::string_view(s.data(), s.size()));
}

std::string canonical_entry_object(const Event& e) {
  std::string out = "{";
  for (const auto& f : encode_entry(e)) {
    if (out.size() > 1) {
      out.push_back(',');
    }
    out += json_string(f.name) + ":" + json_string(f.value);
  }
  return out + "}";
}

}  // namespace

Result<Event> validate_line(std::string_view line, const ValidateOptions& options) {
  if (line.find_first_not_of(" \t") == std::string_view::npos) {
    return make_error("/", "empty line (expected one JSON object)");
  }
  if (options.format == InputFormat::payload) {
    return decode_payload(line, options.limits);
  }
  auto root = strict::parse_strict(line, options.limits.max_depth);
  if (!root) {
    const Error& e = root.error();
    return make_error(e.path, e.reason == "duplicate key" ? "repeated field" : e.reason);
  }
  if (root->kind != JsonKind::object) {
    return make_error("/", "must be a JSON object of stream fields, got " +
                               std::string(strict::describe(root->kind)));
  }
  std::vector<EntryFieldView> fields;
  fields.reserve(root->members.size());
  for (const auto& [name, value] : root->members) {
    if (value.kind != JsonKind::string) {
      return make_error(
          json_pointer_append("", name),
          "stream field values are strings, got " + std::string(strict::describe(value.kind)));
    }
    fields.push_back({name, value.text});
  }
  return decode_entry(std::span<const EntryFieldView>(fields), options.limits);
}

ValidateCounts validate_stream(std::istream& in, std::ostream& out, const std::string& source,
                               const ValidateOptions& options) {
  ValidateCounts counts;
  std::string line;
  const std::size_t bound = line_bound(options);
  std::uint64_t number = 0;
  while (auto length = read_bounded_line(in, line, bound)) {
    ++number;
    Result<Event> r = *length > bound
                          ? Result<Event>(make_error("/", "line is over the limit of " +
                                                              std::to_string(bound) + " bytes"))
                          : validate_line(line, options);
    r ? ++counts.valid : ++counts.invalid;
    if (options.json) {
      out << "{";
      if (!source.empty()) {
        out << "\"file\":" << json_string(source) << ",";
      }
      out << "\"line\":" << number << ",\"valid\":" << (r ? "true" : "false");
      if (!r) {
        out << ",\"path\":" << json_string(r.error().path)
            << ",\"reason\":" << json_string(r.error().reason);
      } else if (options.canonical) {
        const std::string c = options.format == InputFormat::payload ? encode_payload(*r)
                                                                     : canonical_entry_object(*r);
        out << ",\"canonical\":" << json_string(c);
      }
      out << "}\n";
    } else if (!r) {
      out << "invalid: " << escape_for_text(r.error().path) << ": "
          << escape_for_text(r.error().reason) << "\n";
    } else if (options.canonical) {
      out << (options.format == InputFormat::payload ? encode_payload(*r)
                                                     : canonical_entry_object(*r))
          << "\n";
    } else {
      out << "ok\n";
    }
  }
  return counts;
}

}  // namespace galaxy::contract
