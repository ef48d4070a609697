#include "kv/postgres/migrations.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "kv/kv.h"
#include "kv/postgres/testing/pg_fixture.h"

namespace ca::kv::postgres {
namespace {

using MigrationsTest = PgTest;

std::string Query(Connection& connection, const std::string& sql) {
  auto result = connection.Exec(sql, "query");
  EXPECT_TRUE(result.has_value()) << result.error().ToString();
  if (!result || PQntuples(result->get()) == 0) return "";
  return std::string(Value(result->get(), 0, 0));
}

// This binary's migrations plus a later one, standing for the next release.
std::vector<Migration> WithNextVersion() {
  std::vector<Migration> next(Migrations().begin(), Migrations().end());
  next.push_back({next.back().version + 1, "ALTER TABLE lease ADD COLUMN note text"});
  return next;
}

TEST_F(MigrationsTest, EmptyDatabaseMigratesToTheCurrentVersion) {
  auto connection = PG_ASSERT_OK(Connection::Open(Conninfo(), "test"));
  EXPECT_EQ(PG_ASSERT_OK(SchemaVersion(connection)), 0);
  EXPECT_EQ(PG_ASSERT_OK(Migrate(connection)), Migrations().back().version);
  EXPECT_EQ(PG_ASSERT_OK(SchemaVersion(connection)), 1);
  EXPECT_EQ(Query(connection, "SELECT string_agg(version::text, ',') FROM schema_migrations"), "1");
  EXPECT_EQ(
      Query(connection,
            "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position)"
            " FROM information_schema.columns WHERE table_name = 'kv'"),
      "ns:text,tbl:text,k:bytea,v:bytea");
  EXPECT_EQ(
      Query(connection,
            "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position)"
            " FROM information_schema.columns WHERE table_name = 'lease'"),
      "name:text,holder:text,epoch:bigint,expires_at:timestamp with time zone");
  // Idempotent: a second writer start changes nothing.
  EXPECT_EQ(PG_ASSERT_OK(Migrate(connection)), 1);
  EXPECT_EQ(Query(connection, "SELECT count(*) FROM schema_migrations"), "1");
}

TEST_F(MigrationsTest, DatabaseAtAnOlderVersionMovesToTheNext) {
  auto connection = PG_ASSERT_OK(Connection::Open(Conninfo(), "test"));
  PG_ASSERT_OK(Migrate(connection));
  auto next = WithNextVersion();
  EXPECT_EQ(PG_ASSERT_OK(Migrate(connection, next)), 2);
  EXPECT_EQ(Query(connection,
                  "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"),
            "1,2");
  EXPECT_EQ(Query(connection,
                  "SELECT count(*) FROM information_schema.columns"
                  " WHERE table_name = 'lease' AND column_name = 'note'"),
            "1");
}

TEST_F(MigrationsTest, FailedMigrationLeavesTheDatabaseUnchanged) {
  auto connection = PG_ASSERT_OK(Connection::Open(Conninfo(), "test"));
  std::vector<Migration> broken(Migrations().begin(), Migrations().end());
  broken.push_back({2, "CREATE TABLE extra (x int); ALTER TABLE no_such_table ADD COLUMN y int"});
  auto failed = Migrate(connection, broken);
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message.find("schema migration to version 2"), std::string::npos)
      << failed.error().message;
  EXPECT_EQ(PG_ASSERT_OK(SchemaVersion(connection)), 0);  // v1 rolled back with it
  EXPECT_EQ(Query(connection, "SELECT to_regclass('kv') IS NULL AND to_regclass('extra') IS NULL"),
            "t");
}

TEST_F(MigrationsTest, NewerDatabaseIsRefusedByWritersAndReaders) {
  {
    auto connection = PG_ASSERT_OK(Connection::Open(Conninfo(), "test"));
    PG_ASSERT_OK(Migrate(connection, WithNextVersion()));
  }
  const std::string want =
      "PostgreSQL store schema is at version 2, newer than this binary knows (1): upgrade the "
      "binary, or restore a backup of the older schema";
  for (bool read_only : {false, true}) {
    auto env = Env::Open({.location = Location(), .read_only = read_only});
    ASSERT_FALSE(env.has_value());
    EXPECT_EQ(env.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_EQ(env.error().message, want);
  }
}

TEST_F(MigrationsTest, ReadOnlyOpenNeverMigrates) {
  auto env = Env::Open({.location = Location(), .read_only = true});
  ASSERT_FALSE(env.has_value());
  EXPECT_EQ(env.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(env.error().message,
            "PostgreSQL store schema is at version 0, older than this binary's 1: a read-only open "
            "does not migrate; start a writer of this store first");
  auto connection = PG_ASSERT_OK(Connection::Open(Conninfo(), "test"));
  EXPECT_EQ(Query(connection, "SELECT to_regclass('schema_migrations') IS NULL"), "t");
  // Once a writer has opened it, readers open.
  PG_ASSERT_OK(Env::Open({.location = Location(), .create = true}));
  PG_ASSERT_OK(Env::Open({.location = Location(), .read_only = true}));
}

TEST_F(MigrationsTest, ConcurrentWritersMigrateOnce) {
  constexpr int kWriters = 6;
  std::vector<Connection> connections;
  for (int i = 0; i < kWriters; ++i) {
    connections.push_back(PG_ASSERT_OK(Connection::Open(Conninfo(), "test")));
  }
  std::vector<Result<int>> results(kWriters, Fail(ErrorCode::kInternal, "not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] { results[i] = Migrate(connections[i]); });
  }
  for (auto& t : threads) t.join();
  for (auto& result : results) {
    ASSERT_TRUE(result.has_value()) << result.error().ToString();
    EXPECT_EQ(*result, 1);
  }
  EXPECT_EQ(Query(connections[0], "SELECT count(*) FROM schema_migrations"), "1");
}

}  // namespace
}  // namespace ca::kv::postgres
