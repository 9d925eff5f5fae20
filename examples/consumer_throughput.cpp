// Consumer throughput: fills a fresh stream with N valid entries (pipelined XADD, not timed),
// then times one Consumer with a no-op handler from start until every entry is acknowledged.
//
//   consumer_throughput REDIS_URL [N=100000] [COUNT=100]
//
// Prints entries/s for decode + handler + XACK (acks are batched per read). The stream is deleted
// afterwards.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <random>
#include <string>
#include <thread>

#include "galaxy/consumer/consumer.hpp"
#include "galaxy/contract/codec.hpp"
#include "galaxy/redis/connection.hpp"
#include "galaxy/redis/stream_reply.hpp"

namespace gc = galaxy::consumer;

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::cerr << "usage: consumer_throughput REDIS_URL [N] [COUNT]\n";
    return 2;
  }
  const std::string url = argv[1];
  const long n = argc > 2 ? std::stol(argv[2]) : 100000;
  const std::size_t count = argc > 3 ? std::stoul(argv[3]) : 100;
  const auto endpoint = galaxy::parse_redis_url(url);
  if (!endpoint) {
    std::cerr << endpoint.error().message() << "\n";
    return 2;
  }
  auto conn =
      galaxy::redis::Connection::open(*endpoint, std::chrono::seconds(5), std::chrono::seconds(30));
  if (!conn) {
    std::cerr << conn.error().message() << "\n";
    return 1;
  }
  const std::string stream =
      fmt::format("bench:consumer:{}:{}", ::getpid(), std::random_device{}());
  const galaxy::contract::Event event{
      "game-123", "7c2b5d1a4f6e", 1775121810000,
      galaxy::contract::ProbeFailed{3, 0, "context deadline exceeded"}};
  std::vector<std::string> xadd = {"XADD", stream, "*"};
  for (const auto& f : galaxy::contract::encode_entry(event)) {
    xadd.push_back(f.name);
    xadd.push_back(f.value);
  }
  for (long done = 0; done < n;) {
    const long batch = std::min(1000L, n - done);
    const std::vector<std::vector<std::string>> cmds(static_cast<std::size_t>(batch), xadd);
    if (auto r = conn->pipeline(cmds); !r) {
      std::cerr << r.error().message() << "\n";
      return 1;
    }
    done += batch;
  }

  gc::ConsumerOptions options;
  options.redis_url = url;
  options.stream = stream;
  options.group = "bench";
  options.consumer = "c1";
  options.start_id = "0";
  options.count = count;
  options.block = std::chrono::milliseconds(100);
  const galaxy::SystemClock clock;
  gc::Consumer consumer(
      options, [](const gc::Delivery&) { return true; }, clock);
  const auto start = std::chrono::steady_clock::now();
  std::thread runner([&consumer] { consumer.run(); });
  while (consumer.stats().acked < static_cast<std::uint64_t>(n)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  consumer.stop();
  runner.join();
  (void)conn->command({"DEL", stream});
  const double seconds = std::chrono::duration<double>(elapsed).count();
  fmt::print("{} entries, COUNT {}, one consumer, no-op handler: {:.3f} s, {:.0f} entries/s\n", n,
             count, seconds, static_cast<double>(n) / seconds);
  return 0;
}
