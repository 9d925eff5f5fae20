// The smallest useful consumer: joins a group and prints each health event, acknowledging it.
//
//   print_events redis://127.0.0.1:6379 my-group my-consumer
//
// Stop it with Ctrl-C: the current event is finished and acknowledged first.
#include <fmt/format.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "galaxy/common/stop_signal.hpp"
#include "galaxy/consumer/consumer.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: print_events REDIS_URL GROUP CONSUMER\n";
    return 2;
  }
  galaxy::consumer::ConsumerOptions options;
  options.redis_url = argv[1];
  options.group = argv[2];
  options.consumer = argv[3];
  options.start_id = "0";  // a new group starts at the beginning of the stream

  const galaxy::SystemClock clock;
  // The entry ID is the dedupe key: a real handler records it with its side effect, so a
  // redelivery (at-least-once) is recognised and skipped.
  auto handler = [](const galaxy::consumer::Delivery& d) {
    fmt::print("{} {} {} (delivery {})\n", d.id, d.event.game_id,
               galaxy::contract::to_string(d.event.type()), d.delivery_count);
    return true;
  };
  try {
    galaxy::StopSignal stop;
    const galaxy::SignalWatcher signals(stop);
    galaxy::consumer::Consumer consumer(options, handler, clock);
    stop.on_request([&consumer] { consumer.stop(); });
    consumer.run();
    stop.on_request(nullptr);
  } catch (const galaxy::ErrorException& e) {
    std::cerr << "print_events: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
