// One Redis connection over hiredis, for everything that talks to Redis (the durable sink's
// relay, the consumer SDK, the CLI).
//
// hiredis 0.14 is the Redis client Debian ships; its blocking context, with a socket timeout on
// every read and write, is enough for users that do one thing at a time. (It has no Sentinel or
// Cluster support, and Debian 12 ships no client that has (redis-plus-plus is not packaged): the
// little of both this product needs is written here, on the same blocking context.)
//
// Topologies (RedisEndpoint::topology):
// - single: the one server the URL names.
// - sentinel: open() asks the sentinels in the URL's order for the master's address
//   (SENTINEL get-master-addr-by-name), connects to it and confirms it with ROLE; a sentinel that
//   does not answer, or names a server that is not master (a failover in progress), is passed
//   over for the next. A reply -READONLY, -LOADING, -MASTERDOWN or -UNBLOCKED (the server is no
//   longer, or not yet, a usable master) breaks the connection and comes back as Error{io}: the
//   caller opens a new one, which asks the sentinels again.
// - cluster: open() asks the seed nodes (CLUSTER SLOTS) which master owns the slot of
//   `slot_key` and connects to it. Every command of this product touches the stream's slot
//   only (the side keys are {<stream>}:...), so one connection to that master does; a -MOVED for
//   that slot (its master failed over or the slot moved) reconnects to the new owner and resends
//   what was redirected, a -MOVED for another slot or an -ASK is followed on a connection of its
//   own. Redirects are safe to resend: a redirected command was not executed. -CLUSTERDOWN breaks
//   the connection as above.
//
// Errors: Error{kind, "redis", reason}; kind is io (could not connect, reset), timeout (no reply
// within the deadline), closed (the server closed the connection) or protocol (an unreadable
// reply). After any of them the connection is broken and every later call fails fast; the caller
// opens a new one. A Redis error reply is not an Error: it comes back as a reply (is_error();
// server_error() in reply.hpp turns it into one). Reasons name the endpoint only in redacted form.
//
// hiredis writes with write(): a process that uses a Connection must block or ignore SIGPIPE, or
// a write to a Redis that just died kills it.
//
// Not thread-safe: one thread uses a Connection at a time. Movable.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "galaxy/common/redis_url.hpp"
#include "galaxy/common/result.hpp"
#include "galaxy/redis/reply.hpp"

struct redisContext;

namespace galaxy::redis {

// One command's arguments, binary-safe.
using Argv = std::vector<std::string_view>;

class Connection {
 public:
  // Connects (for sentinel and cluster: finds the node first, see above), then AUTHs and SELECTs
  // as the endpoint says, each step within connect_timeout; every later command gets
  // command_timeout. A refused AUTH or SELECT is Error{server, ...} with the code Redis gave
  // ("WRONGPASS"); no sentinel naming a reachable master, or no seed answering for the slot, is
  // Error{io}. `slot_key` is the key whose slot a cluster connection serves (the stream); other
  // topologies ignore it, and a cluster connection without one talks to the first seed that
  // answers. Throws nothing.
  static Result<Connection> open(const RedisEndpoint& endpoint,
                                 std::chrono::milliseconds connect_timeout,
                                 std::chrono::milliseconds command_timeout,
                                 std::string_view slot_key = {});

  // The Redis Cluster slot of a key (CRC16 of the key or of its {hash tag}, mod 16384).
  static int key_slot(std::string_view key);

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // Sends one command and returns its reply. `timeout` overrides command_timeout for this call
  // only (BLOCK commands need more than the block time).
  Result<ReplyPtr> command(std::span<const std::string_view> argv,
                           std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<ReplyPtr> command(std::span<const std::string> argv,
                           std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<ReplyPtr> command(std::initializer_list<std::string_view> argv);

  // Sends all commands before reading any reply (one round trip); replies are in order.
  Result<std::vector<ReplyPtr>> pipeline(std::span<const Argv> commands);
  Result<std::vector<ReplyPtr>> pipeline(std::span<const std::vector<std::string>> commands);

  bool broken() const;
  // "redis://user:***@host:port/db" (with the sentinel master or the cluster slot it serves):
  // safe to log.
  const std::string& endpoint() const { return endpoint_; }
  // Redirects followed (cluster) since open.
  std::uint64_t redirects() const { return redirects_; }

 private:
  Connection(redisContext* ctx, std::string endpoint, std::chrono::milliseconds command_timeout);
  static Result<Connection> open_node(const RedisEndpoint& node,
                                      std::chrono::milliseconds connect_timeout,
                                      std::chrono::milliseconds command_timeout);
  static Result<Connection> open_sentinel(const RedisEndpoint& endpoint,
                                          std::chrono::milliseconds connect_timeout,
                                          std::chrono::milliseconds command_timeout);
  static Result<Connection> open_cluster(const RedisEndpoint& endpoint,
                                         std::chrono::milliseconds connect_timeout,
                                         std::chrono::milliseconds command_timeout,
                                         std::string_view slot_key);
  Error io_error(std::string_view what) const;
  Result<void> set_timeout(std::chrono::milliseconds timeout);
  Result<void> append(std::size_t argc, const char** argv, const std::size_t* lens);
  Result<std::vector<ReplyPtr>> read_replies(std::size_t n);
  // Sends and reads on this node only.
  Result<std::vector<ReplyPtr>> exchange(std::span<const Argv> commands,
                                         std::chrono::milliseconds timeout);
  // exchange(), then the topology's rules: redirects followed, failover replies turned into
  // errors.
  Result<std::vector<ReplyPtr>> run(std::span<const Argv> commands,
                                    std::chrono::milliseconds timeout);
  Result<void> follow_redirects(std::span<const Argv> commands, std::vector<ReplyPtr>& replies,
                                std::chrono::milliseconds timeout);

  struct ContextDeleter {
    void operator()(redisContext* ctx) const;
  };
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  std::string endpoint_;  // redacted
  std::chrono::milliseconds command_timeout_{};
  std::chrono::milliseconds current_timeout_{};
  std::chrono::milliseconds connect_timeout_{};
  // What the URL said (the credentials for nodes reached by a redirect) and, for a cluster, the
  // slot this connection serves (-1: none).
  RedisEndpoint spec_{};
  std::string node_host_{};
  std::uint16_t node_port_ = 0;
  int home_slot_ = -1;
  std::uint64_t redirects_ = 0;
};

}  // namespace galaxy::redis
