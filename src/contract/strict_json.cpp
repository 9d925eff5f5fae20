#include "galaxy/contract/strict_json.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <cassert>
#include <limits>
#include <optional>

#include "galaxy/common/utf8.hpp"

namespace galaxy::contract::strict {

namespace {

using boost::system::error_code;

// The handler builds the tree on an explicit stack; it fails the parse (any error code) and
// records its own Error, which parse_strict then prefers over the parser's generic one.
class TreeBuilder {
 public:
  static constexpr std::size_t max_object_size = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t max_array_size = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t max_key_size = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t max_string_size = std::numeric_limits<std::size_t>::max();

  bool on_document_begin(error_code& /*ec*/) { return true; }
  bool on_document_end(error_code& /*ec*/) { return true; }

  bool on_array_begin(error_code& /*ec*/) { return open(JsonKind::array); }
  bool on_array_end(std::size_t /*n*/, error_code& /*ec*/) { return close(); }
  bool on_object_begin(error_code& /*ec*/) { return open(JsonKind::object); }
  bool on_object_end(std::size_t /*n*/, error_code& /*ec*/) { return close(); }

  bool on_string_part(std::string_view s, std::size_t /*n*/, error_code& /*ec*/) {
    pending_.append(s);
    return true;
  }
  bool on_string(std::string_view s, std::size_t /*n*/, error_code& ec) {
    JsonNode node;
    node.kind = JsonKind::string;
    node.text = std::move(pending_);
    node.text.append(s);
    pending_.clear();
    return put(std::move(node), ec);
  }
  bool on_key_part(std::string_view s, std::size_t /*n*/, error_code& /*ec*/) {
    pending_.append(s);
    return true;
  }
  bool on_key(std::string_view s, std::size_t /*n*/, error_code& ec) {
    std::string key = std::move(pending_);
    key.append(s);
    pending_.clear();
    Frame& top = stack_.back();
    assert(top.node.kind == JsonKind::object);
    for (const auto& [existing, value] : top.node.members) {
      if (existing == key) {
        return fail(ec, json_pointer_append(top.path, key), "duplicate key");
      }
    }
    key_ = std::move(key);
    return true;
  }

  bool on_number_part(std::string_view s, error_code& /*ec*/) {
    pending_.append(s);
    return true;
  }
  bool on_int64(std::int64_t v, std::string_view /*s*/, error_code& ec) {
    pending_.clear();
    JsonNode node;
    node.kind = JsonKind::integer;
    node.integer = v;
    return put(std::move(node), ec);
  }
  bool on_uint64(std::uint64_t /*v*/, std::string_view s, error_code& ec) {
    // Boost.JSON only reports uint64 for integers above INT64_MAX.
    return put_literal(JsonKind::out_of_range, s, ec);
  }
  bool on_double(double /*v*/, std::string_view s, error_code& ec) {
    std::string literal = pending_;
    literal.append(s);
    const bool integral = literal.find_first_of(".eE") == std::string::npos;
    return put_literal(integral ? JsonKind::out_of_range : JsonKind::non_integer, s, ec);
  }
  bool on_bool(bool b, error_code& ec) {
    JsonNode node;
    node.kind = JsonKind::boolean;
    node.boolean = b;
    return put(std::move(node), ec);
  }
  bool on_null(error_code& ec) { return put(JsonNode{}, ec); }
  bool on_comment_part(std::string_view /*s*/, error_code& /*ec*/) { return true; }
  bool on_comment(std::string_view /*s*/, error_code& /*ec*/) { return true; }

  // Where the parser stood when it failed: the innermost open container, or the pending key.
  std::string current_path() const {
    if (stack_.empty()) {
      return "/";
    }
    const Frame& top = stack_.back();
    if (top.node.kind == JsonKind::object && !key_.empty()) {
      return json_pointer_append(top.path, key_);
    }
    if (top.node.kind == JsonKind::array) {
      return json_pointer_append(top.path, std::to_string(top.node.elements.size()));
    }
    return top.path.empty() ? "/" : top.path;
  }

  // Where a too-deep value is reported: the field of the contract object that holds it (the
  // place a schema check would name), not the pointer to the innermost bracket.
  std::string holder_path() const {
    if (stack_.empty() || stack_[0].node.kind != JsonKind::object) {
      return "/";
    }
    const std::string& k1 = stack_.size() > 1 ? stack_[1].key : key_;
    std::string p1 = json_pointer_append("", k1);
    if (k1 != "details" || stack_.size() < 2 || stack_[1].node.kind != JsonKind::object) {
      return p1;
    }
    return json_pointer_append(p1, stack_.size() > 2 ? stack_[2].key : key_);
  }

  std::optional<Error>& error() { return error_; }
  std::optional<JsonNode>& result() { return result_; }

 private:
  struct Frame {
    JsonNode node;
    std::string path;  // JSON pointer of this container; "" for the root
    std::string key;   // this container's key in its parent object
  };

  std::string child_path() const {
    if (stack_.empty()) {
      return "";
    }
    const Frame& top = stack_.back();
    if (top.node.kind == JsonKind::object) {
      return json_pointer_append(top.path, key_);
    }
    return json_pointer_append(top.path, std::to_string(top.node.elements.size()));
  }

  bool open(JsonKind kind) {
    Frame f;
    f.node.kind = kind;
    f.path = child_path();
    f.key = std::move(key_);
    stack_.push_back(std::move(f));
    key_.clear();
    return true;
  }

  bool close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    key_ = std::move(f.key);
    error_code ignored;
    return put(std::move(f.node), ignored);
  }

  bool put_literal(JsonKind kind, std::string_view last, error_code& ec) {
    JsonNode node;
    node.kind = kind;
    node.text = std::move(pending_);
    node.text.append(last);
    pending_.clear();
    return put(std::move(node), ec);
  }

  bool put(JsonNode node, error_code& /*ec*/) {
    if (stack_.empty()) {
      result_ = std::move(node);
      return true;
    }
    Frame& top = stack_.back();
    if (top.node.kind == JsonKind::object) {
      top.node.members.push_back(JsonMember{std::move(key_), std::move(node)});
      key_.clear();
    } else {
      top.node.elements.push_back(std::move(node));
    }
    return true;
  }

  bool fail(error_code& ec, std::string path, std::string reason) {
    error_ = Error{std::move(path), std::move(reason)};
    ec = boost::json::error::syntax;  // any failure stops the parser; error_ carries the detail
    return false;
  }

  std::vector<Frame> stack_;
  std::string key_;
  std::string pending_;
  std::optional<JsonNode> result_;
  std::optional<Error> error_;
};

std::string parser_reason(const error_code& ec, std::string_view input) {
  using boost::json::error;
  if (ec == error::syntax && !is_valid_utf8(input)) {
    return "invalid UTF-8";
  }
  if (ec == error::incomplete) {
    return "truncated JSON";
  }
  if (ec == error::extra_data) {
    return "unexpected data after the JSON value";
  }
  return "malformed JSON (" + ec.message() + ")";
}

}  // namespace

std::string_view describe(JsonKind kind) {
  switch (kind) {
    case JsonKind::null:
      return "null";
    case JsonKind::boolean:
      return "a boolean";
    case JsonKind::integer:
      return "an integer";
    case JsonKind::out_of_range:
      return "an integer outside int64";
    case JsonKind::non_integer:
      return "a number with a fraction or exponent";
    case JsonKind::string:
      return "a string";
    case JsonKind::array:
      return "an array";
    case JsonKind::object:
      return "an object";
  }
  return "an unknown value";
}

Result<JsonNode> parse_strict(std::string_view input, std::size_t max_depth) {
  boost::json::parse_options opts;
  opts.max_depth = max_depth;
  opts.allow_comments = false;
  opts.allow_trailing_commas = false;
  opts.allow_invalid_utf8 = false;
  boost::json::basic_parser<TreeBuilder> parser(opts);
  error_code ec;
  const std::size_t used = parser.write_some(false, input.data(), input.size(), ec);
  TreeBuilder& h = parser.handler();
  if (h.error()) {
    return *h.error();
  }
  if (ec == boost::json::error::too_deep) {
    return make_error(h.holder_path(),
                      "nesting deeper than " + std::to_string(max_depth) + " levels");
  }
  if (ec) {
    return make_error(h.current_path(), parser_reason(ec, input));
  }
  if (used != input.size() || !h.result()) {
    return make_error("/", "unexpected data after the JSON value");
  }
  return std::move(*h.result());
}

}  // namespace galaxy::contract::strict
