#pragma once
// Test-side access to the real Redis and PostgreSQL, through the product's own client layers
// (galaxy::redis, galaxy::pg): setting up databases, writing fixtures, reading what the daemon
// wrote. Every helper throws std::runtime_error naming the statement or command that failed.
#include <string>
#include <utility>
#include <vector>

#include "galaxy/contract/codec.hpp"
#include "galaxy/redis/reply.hpp"

namespace galaxy::testsupport {

using SqlRows = std::vector<std::vector<std::string>>;

// Runs one statement on a fresh connection. SELECT/WITH/SHOW return their rows (NULL as ""); any
// other statement runs by the simple protocol (CREATE DATABASE cannot run in a pipeline) and
// returns no rows.
SqlRows sql(const std::string& postgres_url, const std::string& statement);

// The URL with its database replaced (postgresql:// URLs only, libpq's multi-host form too).
std::string with_database(const std::string& postgres_url, const std::string& database);

// One command on a fresh connection; an error reply is returned, not thrown.
redis::ReplyPtr redis_command(const std::string& redis_url, const std::vector<std::string>& argv);

// Every entry of a stream, in order, with its fields as stored.
std::vector<std::pair<std::string, contract::EntryFields>> read_stream(const std::string& redis_url,
                                                                       const std::string& key);

}  // namespace galaxy::testsupport
