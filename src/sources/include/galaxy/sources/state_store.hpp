// Where the health model's memory (the events cursor and what was reported per container)
// survives a restart of the daemon. An I/O seam: the file store now, PostgreSQL later.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "galaxy/common/result.hpp"
#include "galaxy/contract/sink.hpp"
#include "galaxy/sources/model.hpp"

namespace galaxy::sources {

class StateStore {
 public:
  virtual ~StateStore() = default;
  // nullopt when nothing was ever saved. An unreadable or corrupt state is an error, never
  // silently replaced: the caller decides (the daemon refuses to start and names the file).
  virtual Result<std::optional<ModelState>> load() = 0;
  virtual Result<void> save(const ModelState& state) = 0;
  // False for stores that receive the memory record by record with the events (the durable
  // sink): the watcher then never builds a whole-state snapshot for them.
  virtual bool wants_snapshots() const { return true; }
};

// A JSON file written atomically (temporary file, fsync, rename), so a crash leaves either the
// old or the new state, never half of one.
class FileStateStore final : public StateStore {
 public:
  explicit FileStateStore(std::filesystem::path path) : path_(std::move(path)) {}
  Result<std::optional<ModelState>> load() override;
  Result<void> save(const ModelState& state) override;

 private:
  std::filesystem::path path_;
};

std::string encode_state(const ModelState& state);
Result<ModelState> decode_state(std::string_view json);

// The same memory as keyed records (contract::StateRecord), for stores that keep it row by row
// beside the events: "cursor" and "container/<id>".
inline constexpr std::string_view kCursorKey = "cursor";
inline constexpr std::string_view kContainerKeyPrefix = "container/";
std::string encode_cursor(const Cursor& cursor);
std::string encode_memory(const ContainerMemory& memory);
// Builds a state from stored records; an error names the record's key and the place in it.
Result<ModelState> state_from_records(const std::vector<contract::StateRecord>& records);

}  // namespace galaxy::sources
