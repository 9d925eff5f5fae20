// Splits the events stream's body into lines with a bounded buffer: a line over the limit is
// reported once and skipped up to its '\n' without being stored, so a hostile or broken daemon
// cannot make the client allocate more than max_line_bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace galaxy::docker::detail {

class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line_bytes) : max_(max_line_bytes) {}

  // on_line(std::string_view line) for each complete line (without '\n', empty ones skipped);
  // on_overflow(std::size_t bytes_seen) once for each line that exceeded the limit.
  template <class OnLine, class OnOverflow>
  void feed(std::string_view data, OnLine&& on_line, OnOverflow&& on_overflow) {
    while (!data.empty()) {
      const auto nl = data.find('\n');
      const std::string_view piece = data.substr(0, nl);
      if (overflowed_ == 0 && partial_.size() + piece.size() <= max_) {
        partial_.append(piece);
      } else {
        if (overflowed_ == 0) {
          overflowed_ = partial_.size();
          partial_.clear();
          partial_.shrink_to_fit();
        }
        overflowed_ += piece.size();
      }
      if (nl == std::string_view::npos) {
        return;
      }
      if (overflowed_ != 0) {
        on_overflow(overflowed_);
        overflowed_ = 0;
      } else if (!partial_.empty()) {
        on_line(std::string_view(partial_));
      }
      partial_.clear();
      data.remove_prefix(nl + 1);
    }
  }

  // Bytes of an unfinished line held (or skipped) when the stream ended.
  std::size_t pending() const { return overflowed_ != 0 ? overflowed_ : partial_.size(); }

 private:
  std::size_t max_;
  std::string partial_;
  std::size_t overflowed_ = 0;  // non-zero while skipping an oversized line
};

}  // namespace galaxy::docker::detail
