// The web view's I/O seams: the stream (Redis) and the snapshots (PostgreSQL). Both are
// blocking, each used by one thread at a time (the server runs them off its loop); unit tests
// put fakes here.
//
// Errors carry the kind of the layer below (io, timeout, server, protocol) and a reason that
// names the backend without its password.
#pragma once

#include <boost/json/array.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "galaxy/common/redis_url.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/pg/target.hpp"
#include "galaxy/web/hub.hpp"

namespace galaxy::web {

class StreamSource {
 public:
  StreamSource() = default;
  StreamSource(const StreamSource&) = delete;
  StreamSource& operator=(const StreamSource&) = delete;
  virtual ~StreamSource() = default;

  // The newest `n` entries as SSE frames, oldest first (XREVRANGE).
  virtual Result<std::vector<Frame>> latest(std::size_t n) = 0;
  // Up to `count` entries after `after`, waiting up to `block` for the first (XREAD BLOCK); an
  // empty vector when none came.
  virtual Result<std::vector<Frame>> read_after(const std::string& after, std::size_t count,
                                                std::chrono::milliseconds block) = 0;
  // Up to `count` entries after `after` and before `before`, both exclusive (XRANGE).
  virtual Result<std::vector<Frame>> range(const std::string& after, const std::string& before,
                                           std::size_t count) = 0;
};

class SnapshotSource {
 public:
  SnapshotSource() = default;
  SnapshotSource(const SnapshotSource&) = delete;
  SnapshotSource& operator=(const SnapshotSource&) = delete;
  virtual ~SnapshotSource() = default;

  // health_snapshots with each row's host status, sorted by game_id (see docs/web.md for the
  // fields).
  virtual Result<boost::json::array> games() = 0;
  // runtime_hosts folded per host with its lease; empty before the fleet schema.
  virtual Result<boost::json::array> hosts() = 0;
};

struct RedisSourceSettings {
  RedisEndpoint endpoint;
  std::string stream;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds command_timeout{5000};
};

// Opens its connection on first use and again after it broke.
std::unique_ptr<StreamSource> make_redis_source(RedisSourceSettings settings);

struct PgSourceSettings {
  pg::Target target;
  std::chrono::milliseconds io_timeout{5000};
};

std::unique_ptr<SnapshotSource> make_pg_source(PgSourceSettings settings);

}  // namespace galaxy::web
