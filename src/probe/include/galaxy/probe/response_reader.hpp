// Parsing one probe's HTTP response out of bytes as they arrive (see ResponseReader).
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace galaxy::probe {

namespace detail {
// Beast's parser with nothing stored: http::response_parser<empty_body> keeps every header field
// in basic_fields (one allocation per field) and we only need the status and the framing, which
// basic_parser itself tracks. Beast still does all validation, the header limit and chunking.
class StatusOnlyParser final : public boost::beast::http::basic_parser<false> {
 public:
  int status() const { return status_; }
  std::size_t body_bytes() const { return body_bytes_; }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;
  void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code& ec) override;
  void on_field_impl(boost::beast::http::field, string_view, string_view, error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override;
  void on_finish_impl(error_code&) override {}

  int status_ = 0;
  std::size_t body_bytes_ = 0;
};
}  // namespace detail

// Reads one HTTP response out of bytes as they arrive, with bounded memory: the caller reads into
// read_space() and reports how much arrived with commit(). No I/O here, so the fuzz target and unit
// tests drive exactly the code the sessions run.
class ResponseReader {
 public:
  enum class State {
    need_more,  // read more into read_space()
    complete,   // the whole response was read; keep_alive() says whether the connection can stay
    truncated,  // the head is complete but the rest is not worth reading (body over the limit,
                // malformed body, or the peer closed early): the status stands, close
    failed,     // no usable response head: error() says why
  };

  // `buffer` must be larger than max_head_bytes so the head limit is what stops a long head.
  ResponseReader(std::span<char> buffer, std::size_t max_head_bytes, std::size_t max_body_bytes);
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  // Where the next read goes; never empty while state() is need_more.
  std::span<char> read_space();
  // `n` bytes were written at the start of read_space().
  State commit(std::size_t n);
  // The peer closed its side.
  State commit_eof();

  State state() const { return state_; }
  bool head_done() const { return status_ != 0; }
  int status() const { return status_; }
  bool keep_alive() const { return state_ == State::complete && keep_alive_; }
  const std::string& error() const { return error_; }
  std::size_t bytes_received() const { return received_; }

 private:
  State parse();
  bool looks_like_http() const;
  State fail(std::string reason);
  void start_parser(std::size_t head_budget);

  std::span<char> buffer_;
  std::size_t max_head_;
  std::size_t max_body_;
  std::size_t begin_ = 0;  // first byte not yet consumed by the parser
  std::size_t end_ = 0;    // one past the last byte received
  std::size_t received_ = 0;
  std::size_t head_bytes_ = 0;  // consumed by complete interim 1xx heads
  std::size_t head_part_ = 0;   // consumed of the head being parsed (Beast takes the status line
                                // before the fields have arrived)
  std::size_t after_head_ = 0;  // received after the final head
  int status_ = 0;
  bool keep_alive_ = false;
  State state_ = State::need_more;
  std::string error_;
  std::optional<detail::StatusOnlyParser> parser_;
};

}  // namespace galaxy::probe
