// Rows of a host gone for good: its daemon died with events in the outbox that were never relayed,
// and no standby took over. An active daemon of another host adopts them: it takes that host's
// lease (raising its epoch, so the host's own daemon, should it come back from a freeze, is
// fenced), relays the rows with a relay-only DurableSink under that epoch, and leaves the lease
// lapsed again, so the host's daemon (or a standby) takes it back whenever it returns.
//
// One thread, its own connection; every call bounded by the sink's io_timeout and the drain
// deadline. Not thread-safe beyond start()/stop()/stats() from one owner.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "galaxy/pg/conn.hpp"
#include "galaxy/pg/target.hpp"
#include "galaxy/publish/durable_sink.hpp"

namespace galaxy::publish {

struct AdopterSettings {
  // A host's lease must have lapsed this long before its rows are adopted: well past a standby's
  // takeover (at most the lease TTL), so adoption never races a host's own standby.
  std::chrono::milliseconds adopt_after{60'000};
  std::chrono::milliseconds interval{10'000};  // how often the outbox is searched
  // How long one adoption may relay before it gives the host back (and tries again later).
  std::chrono::milliseconds drain_deadline{60'000};
  // Where to relay and how (URLs, stream, timeouts); the fence is the adopted host's.
  DurableSinkSettings sink;
};

struct AdopterStats {
  std::uint64_t adoptions = 0;
  std::uint64_t rows_relayed = 0;
  std::uint64_t errors = 0;
};

class Adopter {
 public:
  // `adopter` names the holder in host_leases ("adopted-by:<daemon id>"); `own_host` is never
  // adopted.
  Adopter(AdopterSettings settings, pg::Target target, std::string adopter, std::string own_host);
  ~Adopter();
  Adopter(const Adopter&) = delete;
  Adopter& operator=(const Adopter&) = delete;

  void start();
  // Ends the thread; an adoption in progress stops relaying within its sink's stop bound.
  void stop();
  AdopterStats stats() const;

  // One search (and adoption, if a host qualifies). Returns the host adopted, if any.
  Result<std::optional<std::string>> adopt_once();

 private:
  void run();
  bool stopping() const;

  AdopterSettings settings_;
  pg::Target target_;
  std::string adopter_;
  std::string own_host_;
  std::optional<pg::Conn> conn_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  AdopterStats stats_;
  std::thread thread_;
};

}  // namespace galaxy::publish
