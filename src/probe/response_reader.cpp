#include "galaxy/probe/response_reader.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/assert.hpp>
#include <boost/beast/http/error.hpp>
#include <cstring>
#include <utility>

namespace galaxy::probe {

namespace http = boost::beast::http;

namespace detail {

void StatusOnlyParser::on_response_impl(int code, string_view /*reason*/, int /*version*/,
                                        error_code& ec) {
  // Status 0 means "no HTTP response" in the contract; a 0xx status is not HTTP either.
  if (code < 100) {
    ec = http::error::bad_status;
    return;
  }
  status_ = code;
}

std::size_t StatusOnlyParser::on_body_impl(string_view body, error_code& /*ec*/) {
  body_bytes_ += body.size();
  return body.size();
}

std::size_t StatusOnlyParser::on_chunk_body_impl(std::uint64_t /*remain*/, string_view body,
                                                 error_code& /*ec*/) {
  body_bytes_ += body.size();
  return body.size();
}

}  // namespace detail

namespace {

// Interim responses (100 Continue, 102, 103 Early Hints) precede the real one; 101 is final.
bool interim(int status) {
  return status >= 100 && status < 200 && status != 101;
}

}  // namespace

ResponseReader::ResponseReader(std::span<char> buffer, std::size_t max_head_bytes,
                               std::size_t max_body_bytes)
    : buffer_(buffer), max_head_(max_head_bytes), max_body_(max_body_bytes) {
  BOOST_ASSERT(max_head_ > 0 && buffer_.size() > max_head_);
  start_parser(max_head_);
}

void ResponseReader::start_parser(std::size_t head_budget) {
  head_part_ = 0;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(head_budget));
  // Reads are bounded here (read_space), so Beast must not fail a long body we simply stop
  // reading.
  parser_->body_limit(boost::none);
  // Stop after the head so its size is known (the head limit spans interim heads).
  parser_->eager(false);
}

std::span<char> ResponseReader::read_space() {
  if (state_ != State::need_more) {
    return {};
  }
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  std::size_t space = buffer_.size() - end_;
  if (head_done()) {
    space = std::min(space, max_body_ - std::min(max_body_, after_head_));
  }
  BOOST_ASSERT(space > 0);  // parse() turns a full buffer into truncated or failed
  return buffer_.subspan(end_, space);
}

ResponseReader::State ResponseReader::commit(std::size_t n) {
  BOOST_ASSERT(state_ == State::need_more);
  BOOST_ASSERT(end_ + n <= buffer_.size());
  end_ += n;
  received_ += n;
  if (head_done()) {
    after_head_ += n;
  }
  // The bounded read: heads (interim ones too) within max_head, one buffer of bytes around the
  // final head, then at most max_body.
  BOOST_ASSERT(received_ <= max_head_ + buffer_.size() + max_body_);
  return parse();
}

ResponseReader::State ResponseReader::commit_eof() {
  if (state_ != State::need_more) {
    return state_;
  }
  if (received_ == 0) {
    return fail("connection closed before response");
  }
  if (!head_done()) {
    return fail("connection closed during response head");
  }
  boost::beast::error_code ec;
  parser_->put_eof(ec);
  keep_alive_ = false;
  state_ = (!ec && parser_->is_done()) ? State::complete : State::truncated;
  return state_;
}

ResponseReader::State ResponseReader::fail(std::string reason) {
  error_ = std::move(reason);
  state_ = State::failed;
  return state_;
}

// Beast validates a head only once all of it has arrived, so a peer that is not speaking HTTP and
// then closes or goes quiet would otherwise look like a truncated head or a timeout.
bool ResponseReader::looks_like_http() const {
  constexpr std::string_view kStart = "HTTP/";
  const std::size_t n = std::min(kStart.size(), end_ - begin_);
  return std::string_view(buffer_.data() + begin_, n) == kStart.substr(0, n);
}

ResponseReader::State ResponseReader::parse() {
  if (!head_done() && head_part_ == 0 && !looks_like_http()) {
    // A TLS record starts with its content type (0x14-0x17) and major version 3.
    const auto type = static_cast<unsigned char>(buffer_[begin_]);
    const bool tls =
        type >= 0x14 && type <= 0x17 && (end_ - begin_ < 2 || buffer_[begin_ + 1] == 3);
    return fail(tls ? "malformed HTTP response: TLS record (is the port serving HTTPS?)"
                    : "malformed HTTP response: does not start with HTTP/");
  }
  while (begin_ < end_) {
    // Beast 1.81 asserts (debug builds) when the final chunk is re-presented with fewer than 5
    // bytes (boostorg/beast PR #2861, fixed later). No chunked body can end in fewer: Beast keeps
    // the final "0\r\n\r\n" unconsumed until it is whole, so waiting for 5 delays nothing.
    if (head_done() && parser_->chunked() && end_ - begin_ < 5) {
      break;
    }
    boost::beast::error_code ec;
    const std::size_t used =
        parser_->put(boost::asio::const_buffer(buffer_.data() + begin_, end_ - begin_), ec);
    begin_ += used;
    if (!head_done()) {
      head_part_ += used;
    }
    if (ec == http::error::need_more) {
      // Beast applies its limit to the status line and the fields separately; the limit here is
      // on all head bytes, interim heads included.
      if (!head_done() && head_bytes_ + head_part_ + (end_ - begin_) > max_head_) {
        return fail("response head over " + std::to_string(max_head_) + " bytes");
      }
      break;
    }
    if (ec) {
      if (head_done()) {
        state_ = State::truncated;  // the status stands; a broken body only ends the read
        return state_;
      }
      if (ec == http::error::header_limit) {
        return fail("response head over " + std::to_string(max_head_) + " bytes");
      }
      return fail("malformed HTTP response: " + ec.message());
    }
    if (!head_done() && parser_->is_header_done()) {
      head_bytes_ += head_part_;
      if (interim(parser_->status())) {
        if (head_bytes_ >= max_head_) {
          return fail("response head over " + std::to_string(max_head_) + " bytes");
        }
        start_parser(max_head_ - head_bytes_);
        if (!looks_like_http()) {
          return fail("malformed HTTP response: does not start with HTTP/");
        }
        continue;
      }
      status_ = parser_->status();
      after_head_ = end_ - begin_;
      parser_->eager(true);
    }
    if (parser_->is_done()) {
      // Bytes after a complete response would be read as the next probe's response.
      keep_alive_ = parser_->keep_alive() && begin_ == end_;
      state_ = State::complete;
      return state_;
    }
  }
  if (head_done() && parser_->is_done()) {
    keep_alive_ = parser_->keep_alive() && begin_ == end_;
    state_ = State::complete;
    return state_;
  }
  if (head_done() && after_head_ >= max_body_) {
    state_ = State::truncated;
    return state_;
  }
  if (!head_done() && begin_ == 0 && end_ == buffer_.size()) {
    // Unreachable while the buffer is larger than the head limit; kept so a full buffer can
    // never turn into an empty read_space().
    return fail("response head over " + std::to_string(max_head_) + " bytes");
  }
  return State::need_more;
}

}  // namespace galaxy::probe
