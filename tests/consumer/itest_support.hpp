// Helpers for the consumer integration tests: unique keys, writing entries, running a Consumer on
// a thread, and waiting on real I/O with generous deadlines (never asserting how long it took).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "galaxy/consumer/consumer.hpp"
#include "galaxy/contract/codec.hpp"
#include "galaxy/redis/connection.hpp"
#include "galaxy/redis/stream_reply.hpp"
#include "galaxy/testsupport/http.hpp"
#include "galaxy/testsupport/wait.hpp"

namespace galaxy::consumer::itest {

using namespace std::chrono_literals;

inline std::string redis_url() {
  return testsupport::require_env("GALAXY_REDIS_URL");
}

// A key no other test (or run) uses, so tests never see each other's entries.
inline std::string unique_key(std::string_view name) {
  std::random_device rd;
  return "test:consumer:" + std::string(name) + ":" + std::to_string(::getpid()) + ":" +
         std::to_string(rd());
}

inline redis::Connection connect(const std::string& url) {
  auto ep = parse_redis_url(url);
  if (!ep) {
    throw std::runtime_error(ep.error().message());
  }
  auto c = redis::Connection::open(*ep, 5s, 10s);
  if (!c) {
    throw std::runtime_error("Redis does not answer: " + c.error().message());
  }
  return std::move(*c);
}

inline redis::ReplyPtr must(redis::Connection& c, const std::vector<std::string>& argv) {
  auto r = c.command(argv);
  if (!r) {
    throw std::runtime_error(r.error().message());
  }
  if (redis::is_error(r->get())) {
    throw std::runtime_error(argv.front() + ": " + std::string(redis::text(r->get())));
  }
  return std::move(*r);
}

inline std::string xadd_fields(redis::Connection& c, const std::string& stream,
                               const contract::EntryFields& fields) {
  std::vector<std::string> argv = {"XADD", stream, "*"};
  for (const auto& f : fields) {
    argv.push_back(f.name);
    argv.push_back(f.value);
  }
  return std::string(redis::text(must(c, argv).get()));
}

// Events of every variant, in turn.
inline contract::Event make_event(int i) {
  contract::Event e{"game-" + std::to_string(i % 7), "container-" + std::to_string(i),
                    1775121810000 + i, contract::ContainerDisappeared{}};
  switch (i % 7) {
    case 0:
      e.details = contract::ContainerStarted{"registry/engine:" + std::to_string(i)};
      break;
    case 1:
      e.details = contract::ContainerExited{i, i % 2 == 0};
      break;
    case 2:
      e.details = contract::ContainerOom{137};
      break;
    case 3:
      break;
    case 4:
      e.details = contract::InspectUnhealthy{i, "running", "unhealthy"};
      break;
    case 5:
      e.details = contract::ProbeFailed{i, 0, "connection refused"};
      break;
    default:
      e.details = contract::ProbeRecovered{i};
      break;
  }
  return e;
}

inline std::string xadd_event(redis::Connection& c, const std::string& stream,
                              const contract::Event& e) {
  return xadd_fields(c, stream, contract::encode_entry(e));
}

// Poison entries that break the contract in the three ways the brief names.
inline std::vector<contract::EntryFields> poison_entries() {
  auto valid = contract::encode_entry(make_event(5));
  auto missing = valid;
  missing.erase(missing.begin() + 1);  // no container_id
  auto bad_json = valid;
  bad_json.back().value = "{\"consecutive_failures\":3,";
  auto wrong_variant = valid;
  wrong_variant[2].value = "container_oom";  // details are probe_failed's
  return {missing, bad_json, wrong_variant};
}

inline std::int64_t pending_count(redis::Connection& c, const std::string& stream,
                                  const std::string& group) {
  auto r = must(c, {"XPENDING", stream, group});
  const auto items = redis::elements(r.get());
  return items.empty() ? -1 : redis::integer(items.front()).value_or(-1);
}

inline std::int64_t stream_length(redis::Connection& c, const std::string& stream) {
  return redis::integer(must(c, {"XLEN", stream}).get()).value_or(-1);
}

using testsupport::eventually;

// Handler outcomes recorded per entry ID, shareable between consumers.
class Recorder {
 public:
  void add(std::string_view consumer, std::string_view id, const contract::Event& e,
           std::int64_t delivery) {
    const std::lock_guard lock(mutex_);
    seen_.push_back(Seen{std::string(consumer), std::string(id), e, delivery});
  }
  struct Seen {
    std::string consumer;
    std::string id;
    contract::Event event;
    std::int64_t delivery;
  };
  std::vector<Seen> seen() const {
    const std::lock_guard lock(mutex_);
    return seen_;
  }
  std::size_t size() const {
    const std::lock_guard lock(mutex_);
    return seen_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Seen> seen_;
};

// A Consumer running on its own thread; stopped and joined on destruction.
class RunningConsumer {
 public:
  RunningConsumer(ConsumerOptions options, Handler handler)
      : consumer_(std::move(options), std::move(handler), clock_) {
    thread_ = std::thread([this] { consumer_.run(); });
  }
  RunningConsumer(const RunningConsumer&) = delete;
  RunningConsumer& operator=(const RunningConsumer&) = delete;
  ~RunningConsumer() { stop(); }
  void stop() {
    consumer_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  Consumer& consumer() { return consumer_; }

 private:
  SystemClock clock_;
  Consumer consumer_;
  std::thread thread_;
};

// A fresh stream key per test, a connection, and the stream and its dead letters deleted after.
class StreamTest : public testing::Test {
 protected:
  void SetUp() override {
    stream_ = unique_key(testing::UnitTest::GetInstance()->current_test_info()->name());
    redis_.emplace(connect(redis_url()));
  }
  void TearDown() override {
    if (redis_ && !redis_->broken()) {
      (void)redis_->command({"DEL", stream_, stream_ + ":dead", stream_ + ":processed",
                             stream_ + ":processed:victim", stream_ + ":processed:survivor"});
    }
  }
  std::string stream_;
  std::optional<redis::Connection> redis_;
};

inline ConsumerOptions options_for(const std::string& stream, const std::string& group,
                                   const std::string& consumer) {
  ConsumerOptions o;
  o.redis_url = redis_url();
  o.stream = stream;
  o.group = group;
  o.consumer = consumer;
  o.start_id = "0";
  o.block = 200ms;
  o.claim_idle = 60s;
  return o;
}

}  // namespace galaxy::consumer::itest
