#pragma once
// Disposable Redis Sentinel, Redis Cluster and PostgreSQL primary/standby topologies for failover
// tests, started by scripts/topology in a temp folder of their own, so every test gets fresh
// nodes it may break. As in backends.hpp, every failure throws std::runtime_error carrying the
// script's output, which gtest reports as the test's failure: a topology that does not come up
// fails the test, never skips it.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace galaxy::testsupport {

class Topology {
 public:
  // kind: "sentinel", "cluster" or "pg-pair". Returns once a failover can start right away.
  static Topology up(std::string kind);

  // Moves hand over the duty to tear down, so a topology can be returned from helpers.
  Topology(Topology&& other) noexcept;
  Topology& operator=(Topology&& other) noexcept;
  // One owner only: a copy's destructor would tear down nodes the original still uses.
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;
  ~Topology();  // down(); errors are swallowed, as a destructor cannot report them

  const std::string& kind() const { return kind_; }
  const std::string& dir() const { return dir_; }
  // A line of `up`'s env (SENTINEL_URL, MASTER_URL, CLUSTER_URL, NODE_PORTS, PG_URL, ...).
  // Throws naming the keys there are when `key` is not one of them.
  const std::string& value(const std::string& key) const;

  // SIGKILLs the node that is master now (cluster: the one owning `key`'s slot, slot 0 for "";
  // pg-pair: an immediate stop of the primary) and returns its port.
  std::uint16_t kill_master(const std::string& key = "");
  // pg-pair: promotes the standby and returns once it takes writes.
  void promote();
  // Starts the node kill_master stopped; it rejoins as a replica (standby) of the new master.
  void restart_killed();
  // Kills every node and removes the folder. Idempotent; the destructor calls it too, but a test
  // that checks nothing is left behind calls it first.
  void down();

 private:
  Topology(std::string kind, std::string dir, std::map<std::string, std::string> env);
  std::string script(const std::string& verb, const std::vector<std::string>& extra = {}) const;

  std::string kind_;
  std::string dir_;  // empty once down or moved from
  std::map<std::string, std::string> env_;
};

}  // namespace galaxy::testsupport
