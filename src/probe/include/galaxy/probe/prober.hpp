// The active HTTP/1.1 /healthz prober (docs/emission-rules.md, Source 3): what all probe sessions
// share.
//
// Built for thousands of targets on one shared io_context: a ProbeSession is a small per-target
// object (socket, timer, parser state) reused for every probe of that target; the read buffer is
// borrowed from a pool only once the socket has something to read, so silent targets cost no
// buffer. Everything here runs on one thread: call it from the executor's thread (a single-threaded
// io_context or a strand).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "galaxy/common/clock.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/probe/target.hpp"
#include "galaxy/probe/types.hpp"

namespace galaxy::probe {

class ProbeSession;

// The parts every session of one prober shares: settings, clock and the read-buffer pool.
class Prober {
 public:
  Prober(boost::asio::any_io_executor executor, const Clock& clock, ProbeSettings settings);

  const ProbeSettings& settings() const;
  Result<ProbeTarget> make_target(std::string_view address, std::uint16_t port,
                                  std::string_view path) const;
  // One session per target. `on_done` runs on the executor once per start(), never inline.
  std::shared_ptr<ProbeSession> make_session(std::function<void(const ProbeResult&)> on_done) const;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace galaxy::probe
