#include "kv/postgres/migrations.h"

#include <array>
#include <charconv>
#include <string>

namespace ca::kv::postgres {
namespace {

// pg_advisory_xact_lock key of the migration ("kv_migra"): released by COMMIT or ROLLBACK.
constexpr std::string_view kMigrationLockKey = "7742793186935353185";

constexpr std::array<Migration, 1> kMigrations = {{
    {1,
     "CREATE TABLE kv (ns text NOT NULL, tbl text NOT NULL, k bytea NOT NULL, v bytea NOT NULL,"
     " PRIMARY KEY (ns, tbl, k));"
     "CREATE TABLE lease (name text PRIMARY KEY, holder text NOT NULL, epoch bigint NOT NULL,"
     " expires_at timestamptz NOT NULL);"},
}};

Result<int> ParseVersion(const PgResult& result) {
  if (PQntuples(result.get()) != 1 || PQgetisnull(result.get(), 0, 0)) return 0;
  std::string_view text = Value(result.get(), 0, 0);
  int version = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Fail(ErrorCode::kCorrupt,
                "schema_migrations: unreadable version '" + std::string(text) + "'");
  }
  return version;
}

Result<int> VersionIn(Connection& connection) {
  auto result = CA_TRY(
      connection.Exec("SELECT max(version) FROM schema_migrations", "reading schema_migrations"));
  return ParseVersion(result);
}

std::unexpected<Error> TooNew(int database, int binary) {
  return Fail(ErrorCode::kFailedPrecondition,
              "PostgreSQL store schema is at version " + std::to_string(database) +
                  ", newer than this binary knows (" + std::to_string(binary) +
                  "): upgrade the binary, or restore a backup of the older schema");
}

Result<int> MigrateLocked(Connection& connection, std::span<const Migration> migrations) {
  // "relation already exists, skipping" is the expected case, not news for the log.
  CA_TRY(connection.Exec("SET LOCAL client_min_messages = warning", "schema migration"));
  CA_TRY(
      connection.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY,"
                      " applied_at timestamptz NOT NULL DEFAULT now())",
                      "creating schema_migrations"));
  int version = CA_TRY(VersionIn(connection));
  int latest = migrations.empty() ? 0 : migrations.back().version;
  if (version > latest) return TooNew(version, latest);
  for (const Migration& migration : migrations) {
    if (migration.version <= version) continue;
    std::string what = "schema migration to version " + std::to_string(migration.version);
    CA_TRY(connection.Exec(std::string(migration.sql), what));
    CA_TRY(connection.Exec("INSERT INTO schema_migrations (version) VALUES (" +
                               std::to_string(migration.version) + ")",
                           what));
    version = migration.version;
  }
  return version;
}

}  // namespace

std::span<const Migration> Migrations() {
  return kMigrations;
}

Result<int> Migrate(Connection& connection, std::span<const Migration> migrations) {
  // READ COMMITTED whatever the server's default: after waiting for the lock, each statement sees
  // what the process that held it committed.
  CA_TRY(connection.Exec("BEGIN ISOLATION LEVEL READ COMMITTED", "schema migration"));
  auto migrated = [&]() -> Result<int> {
    CA_TRY(connection.Exec("SELECT pg_advisory_xact_lock(" + std::string(kMigrationLockKey) + ")",
                           "schema migration lock"));
    return MigrateLocked(connection, migrations);
  }();
  if (!migrated) {
    (void)connection.Exec("ROLLBACK", "schema migration rollback");
    return migrated;
  }
  CA_TRY(connection.Exec("COMMIT", "schema migration commit"));
  return migrated;
}

Result<int> SchemaVersion(Connection& connection) {
  auto exists = CA_TRY(connection.Exec("SELECT to_regclass('schema_migrations') IS NOT NULL",
                                       "looking for schema_migrations"));
  if (Value(exists.get(), 0, 0) != "t") return 0;
  return VersionIn(connection);
}

Status CheckSchemaVersion(Connection& connection, std::span<const Migration> migrations) {
  int version = CA_TRY(SchemaVersion(connection));
  int latest = migrations.empty() ? 0 : migrations.back().version;
  if (version > latest) return TooNew(version, latest);
  if (version < latest) {
    return Fail(ErrorCode::kFailedPrecondition,
                "PostgreSQL store schema is at version " + std::to_string(version) +
                    ", older than this binary's " + std::to_string(latest) +
                    ": a read-only open does not migrate; start a writer of this store first");
  }
  return Ok();
}

}  // namespace ca::kv::postgres
