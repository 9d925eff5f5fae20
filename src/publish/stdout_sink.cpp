#include "galaxy/publish/stdout_sink.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "galaxy/contract/codec.hpp"

namespace galaxy::publish {

StdoutSink::StdoutSink(StdoutSinkSettings settings)
    : settings_(settings), writer_([this] { run(); }) {}

StdoutSink::~StdoutSink() {
  stop(std::chrono::seconds(2));
}

void StdoutSink::emit(const contract::Event& event) {
  std::string line = contract::encode_payload(event);
  line.push_back('\n');
  std::uint64_t dropped = 0;
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < settings_.queue_capacity) {
      queue_.push_back(std::move(line));
      cv_.notify_one();
      return;
    }
    dropped = ++dropped_;
  }
  // Powers of two keep a stuck reader from flooding the log.
  if ((dropped & (dropped - 1)) == 0) {
    spdlog::warn("stdout sink full or stopped: {} event(s) dropped so far", dropped);
  }
}

void StdoutSink::apply(contract::Transition transition) {
  for (const auto& e : transition.events) {
    emit(e);
  }
}

void StdoutSink::stop(std::chrono::milliseconds deadline) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      stop_deadline_ = std::chrono::steady_clock::now() + deadline;
    }
    cv_.notify_one();
  }
  if (writer_.joinable()) {
    writer_.join();
  }
}

void StdoutSink::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() || (stopping_ && std::chrono::steady_clock::now() > stop_deadline_)) {
      dropped_ += queue_.size();
      queue_.clear();
      return;
    }
    std::string line = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    std::size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(settings_.fd, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        spdlog::error("stdout sink: write failed: {}", std::generic_category().message(errno));
        ++dropped_;
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    if (done == line.size()) {
      ++written_;
    }
    lock.lock();
  }
}

}  // namespace galaxy::publish
