// Runtime records: what Runtime Manager runs for Game Master, one row per container incarnation
// of a game on this host (runtime_records, migration 0003). The store is the PostgreSQL seam of
// the engine manager; every write is fenced by the host's lease epoch, so a standby, or a daemon
// that lost its lease, changes no record.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "galaxy/common/result.hpp"
#include "galaxy/pg/conn.hpp"
#include "galaxy/pg/target.hpp"
#include "galaxy/publish/backends.hpp"

namespace galaxy::lifecycle {

enum class Desired : std::uint8_t { running, stopped, removed };
enum class State : std::uint8_t { pending, running, stopped, removed, failed };
enum class Action : std::uint8_t { none, create, stop, restart, remove };

std::string_view to_string(Desired d);
std::string_view to_string(State s);
std::string_view to_string(Action a);

struct Record {
  std::string game_id;
  std::int64_t incarnation = 0;
  std::string container_id;  // "" until created
  bool current = true;
  std::string spec;  // canonical spec JSON (spec_json)
  Desired desired = Desired::running;
  State state = State::pending;
  Action action = Action::none;  // the intent in progress
  std::string action_by;
  std::string error;
  std::string created_at;  // RFC 3339 UTC, from the database
  std::string updated_at;
  bool operator==(const Record&) const = default;
};

// Not thread-safe: one owner (the engine manager's store thread).
class RecordStore {
 public:
  RecordStore() = default;
  RecordStore(const RecordStore&) = delete;
  RecordStore& operator=(const RecordStore&) = delete;
  virtual ~RecordStore() = default;

  // The game's current incarnation, if any.
  virtual Result<std::optional<Record>> current(const std::string& game_id) = 0;
  // Every current incarnation that is not removed.
  virtual Result<std::vector<Record>> list() = 0;
  // Records with an action in progress (intents a crash may have left).
  virtual Result<std::vector<Record>> pending() = 0;
  // The containers the records asked Docker to remove (desired removed, or replaced by a
  // restart): their destroy is no disappearance.
  virtual Result<std::vector<std::string>> removal_intents() = 0;
  // A new incarnation (the next number) becomes the game's current one, with its intent; the
  // previous current one stops being current. Returns it as stored.
  virtual Result<Record> begin(Record r) = 0;
  // Stores container_id, desired, state, action, action_by and error of (game, incarnation).
  virtual Result<Record> update(const Record& r) = 0;
};

class PgRecordStore final : public RecordStore {
 public:
  PgRecordStore(pg::Target target, std::chrono::milliseconds io_timeout, publish::HostFence fence);
  ~PgRecordStore() override;

  Result<std::optional<Record>> current(const std::string& game_id) override;
  Result<std::vector<Record>> list() override;
  Result<std::vector<Record>> pending() override;
  Result<std::vector<std::string>> removal_intents() override;
  Result<Record> begin(Record r) override;
  Result<Record> update(const Record& r) override;

 private:
  Result<pg::Conn*> conn();
  Result<std::vector<Record>> select(const std::string& where, std::vector<std::string> params);
  // Runs statements in one fenced transaction; returns the last statement's rows.
  Result<std::vector<Record>> write(std::vector<pg::Query> statements);

  pg::Target target_;
  std::chrono::milliseconds io_timeout_;
  publish::HostFence fence_;
  std::optional<pg::Conn> conn_;
};

}  // namespace galaxy::lifecycle
