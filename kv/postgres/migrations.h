// The PostgreSQL schema of kv::Env and its versioned migrations (internal to kv/postgres/).
// schema_migrations(version, applied_at) records every version applied. A writer brings the
// database to the binary's version in one transaction under a transaction-level advisory lock (two
// processes starting together migrate once); a database newer than the binary is refused; a
// read-only open never migrates and refuses a database at another version.
#pragma once

#include <span>
#include <string_view>

#include "common/result.h"
#include "kv/postgres/connection.h"

namespace ca::kv::postgres {

struct Migration {
  int version;           // 1, 2, ... in order
  std::string_view sql;  // statements without parameters, run in the migration's transaction
};

// This binary's migrations.
std::span<const Migration> Migrations();

// Brings the database to the last version of `migrations`; returns the version it is at.
// kFailedPrecondition if the database is at a newer version than `migrations` knows.
Result<int> Migrate(Connection& connection, std::span<const Migration> migrations = Migrations());

// The version recorded in the database (0 if it has no schema yet).
Result<int> SchemaVersion(Connection& connection);

// For read-only opens: kFailedPrecondition unless the database is at the last version of
// `migrations`.
Status CheckSchemaVersion(Connection& connection,
                          std::span<const Migration> migrations = Migrations());

}  // namespace ca::kv::postgres
