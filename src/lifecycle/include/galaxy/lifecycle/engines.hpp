// The engine manager: starts, stops, restarts and removes game engines for Game Master, keeps their
// runtime records, and answers the watcher's question "did we ask for this destroy?"
// (RemovalIntents), so only removals nobody asked for become container_disappeared
// (docs/lifecycle.md).
//
// Every action records its intent (PostgreSQL, fenced by the lease) before it calls Docker, and
// finishes by recording what Docker did; a daemon that dies in between finds the intent at its
// next start (reconcile()) and completes it, so no action runs twice and none is forgotten.
// Actions on one game are serialised: a second one while one runs is refused (409).
//
// Runs on the daemon's loop (one thread). The blocking record store runs on a thread of its own,
// awaited, so the loop never waits on PostgreSQL.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "galaxy/docker/api.hpp"
#include "galaxy/lifecycle/api_server.hpp"
#include "galaxy/lifecycle/records.hpp"
#include "galaxy/lifecycle/spec.hpp"
#include "galaxy/sources/model.hpp"

namespace galaxy::lifecycle {

struct EngineManagerSettings {
  std::string host_id;
  sources::LabelSettings labels;            // the watcher's label keys (game id, healthz)
  std::vector<std::string> image_prefixes;  // --engine-image-prefix; empty: any image
  std::chrono::seconds default_stop_timeout{10};
};

struct EngineManagerStats {
  std::uint64_t actions = 0;
  std::uint64_t action_failures = 0;
  std::uint64_t conflicts = 0;   // refused: another action in progress, or another spec
  std::uint64_t reconciled = 0;  // intents finished at start
};

class EngineManager final : public sources::RemovalIntents {
 public:
  EngineManager(boost::asio::any_io_executor executor, docker::DockerApi& docker,
                std::unique_ptr<RecordStore> store, EngineManagerSettings settings);
  ~EngineManager() override;
  EngineManager(const EngineManager&) = delete;
  EngineManager& operator=(const EngineManager&) = delete;

  // The watcher's question, on the loop: true for a container the records asked Docker to
  // remove (or are about to).
  bool initiated(const std::string& container_id) const override;

  // Loads the removal intents; call (and await) before the watcher starts.
  boost::asio::awaitable<Result<void>> load();
  // Finishes the intents a crash left (records with an action in progress). Logged; a failure
  // stays recorded on the record and is retried at the next start.
  boost::asio::awaitable<void> reconcile();

  // The API's handlers (server.add for each route of docs/lifecycle.md).
  boost::asio::awaitable<ApiResponse> create(ApiRequest req);
  boost::asio::awaitable<ApiResponse> list(ApiRequest req);
  boost::asio::awaitable<ApiResponse> get(ApiRequest req);
  boost::asio::awaitable<ApiResponse> stop(ApiRequest req);
  boost::asio::awaitable<ApiResponse> restart(ApiRequest req);
  boost::asio::awaitable<ApiResponse> remove(ApiRequest req);

  const EngineManagerStats& stats() const { return stats_; }

 private:
  // Runs f() on the store's thread and resumes the caller on the loop with its result (in an
  // optional: an awaitable's value must be default-constructible, Result is not).
  template <class F>
  auto on_store(F& work);
  boost::asio::awaitable<Result<Record>> save(Record r);
  boost::asio::awaitable<ApiResponse> respond(unsigned status, const Record& r);
  boost::asio::awaitable<Result<void>> run_container(Record& r, const EngineSpec& spec);
  boost::asio::awaitable<Result<void>> remove_container(Record& r);
  docker::ContainerCreate to_create(const Record& r, const EngineSpec& spec) const;
  boost::asio::awaitable<Result<std::string>> find_container(const Record& r);
  ApiResponse fail(const std::string& what, const Record& r, const Error& e);
  ApiResponse busy_error(const std::string& game);
  boost::asio::awaitable<std::variant<Record, ApiResponse>> live_record(const std::string& game);
  boost::asio::awaitable<std::variant<Record, ApiResponse>> record_intent(Record r, Desired desired,
                                                                          Action action,
                                                                          const std::string& who);

  boost::asio::any_io_executor executor_;
  docker::DockerApi& docker_;
  std::unique_ptr<RecordStore> store_;
  EngineManagerSettings settings_;
  boost::asio::thread_pool store_thread_{1};
  std::set<std::string> removing_;  // container ids
  std::set<std::string> busy_;      // game ids with an action in progress
  EngineManagerStats stats_;
};

}  // namespace galaxy::lifecycle
