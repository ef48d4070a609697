#include "kv/postgres/pool.h"

#include <gtest/gtest.h>

#include <thread>

#include "kv/postgres/testing/pg_fixture.h"

namespace ca::kv::postgres {
namespace {

using PoolTest = PgTest;

std::string Backend(Connection& connection) {
  auto result = connection.Exec("SELECT pg_backend_pid()", "pid");
  EXPECT_TRUE(result.has_value()) << result.error().ToString();
  return result ? std::string(Value(result->get(), 0, 0)) : "";
}

TEST_F(PoolTest, ReusesIdleConnectionsAndBoundsTheCount) {
  auto pool = Pool::Create({.conninfo = Conninfo(),
                            .what = "pg:test/pool",
                            .max_connections = 2,
                            .wait = std::chrono::milliseconds(100)});
  std::string first_pid;
  {
    auto first = PG_ASSERT_OK(pool->Acquire());
    EXPECT_FALSE(first.reused());
    first_pid = Backend(*first);
  }
  EXPECT_EQ(pool->idle_connections(), 1u);
  auto a = PG_ASSERT_OK(pool->Acquire());
  EXPECT_TRUE(a.reused());
  EXPECT_EQ(Backend(*a), first_pid);
  auto b = PG_ASSERT_OK(pool->Acquire());
  EXPECT_NE(Backend(*b), first_pid);
  EXPECT_EQ(pool->open_connections(), 2u);

  auto start = std::chrono::steady_clock::now();
  auto exhausted = pool->Acquire();
  ASSERT_FALSE(exhausted.has_value());
  EXPECT_EQ(exhausted.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(exhausted.error().message,
            "PostgreSQL connection pool of pg:test/pool exhausted: all 2 connections in use");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
}

TEST_F(PoolTest, AWaiterGetsAConnectionGivenBack) {
  auto pool = Pool::Create({.conninfo = Conninfo(),
                            .what = "w",
                            .max_connections = 1,
                            .wait = std::chrono::seconds(10)});
  auto held = std::make_optional(PG_ASSERT_OK(pool->Acquire()));
  std::thread giver([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    held.reset();
  });
  auto got = pool->Acquire();
  giver.join();
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_TRUE(got->reused());
}

TEST_F(PoolTest, ConnectionInsideATransactionIsClosedNotPooled) {
  auto pool = Pool::Create({.conninfo = Conninfo(), .what = "t"});
  {
    auto c = PG_ASSERT_OK(pool->Acquire());
    PG_ASSERT_OK(c->Exec("BEGIN", "BEGIN"));
  }
  EXPECT_EQ(pool->idle_connections(), 0u);
  EXPECT_EQ(pool->open_connections(), 0u);
}

TEST_F(PoolTest, ConnectionFoundOnAReadOnlyServerIsNotPooled) {
  auto pool = Pool::Create({.conninfo = Conninfo(), .what = "ro"});
  {
    auto c = PG_ASSERT_OK(pool->Acquire());
    // What a write meets on a primary demoted to standby, with the connection still up.
    PG_ASSERT_OK(c->Exec("SET default_transaction_read_only = on", "set"));
    auto failed = c->Exec("CREATE TABLE t (i int)", "create");
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
    EXPECT_TRUE(failed.error().message.starts_with(
        "PostgreSQL server is read-only (a standby; the primary moved?) during create: "))
        << failed.error().message;
    EXPECT_FALSE(c->broken());
    EXPECT_FALSE(c->usable());
  }
  EXPECT_EQ(pool->open_connections(), 0u);
}

TEST_F(PoolTest, BrokenConnectionIsDroppedAndTheNextOneReconnects) {
  auto pool = Pool::Create({.conninfo = Conninfo(), .what = "pg:test/r"});
  { PG_ASSERT_OK(pool->Acquire()); }
  ASSERT_EQ(pool->idle_connections(), 1u);
  PG_ASSERT_OK(cluster_->Stop());
  {
    auto stale = PG_ASSERT_OK(pool->Acquire());
    auto failed = stale->Exec("SELECT 1", "probe");
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable) << failed.error().ToString();
    EXPECT_TRUE(failed.error().message.starts_with("PostgreSQL connection lost during probe: "))
        << failed.error().message;
    EXPECT_TRUE(stale->broken());
  }
  EXPECT_EQ(pool->open_connections(), 0u);
  auto down = pool->Acquire();
  ASSERT_FALSE(down.has_value());
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(down.error().message.starts_with("cannot connect to PostgreSQL (pg:test/r): "))
      << down.error().message;
  PG_ASSERT_OK(cluster_->Restart());
  auto again = PG_ASSERT_OK(pool->Acquire());
  EXPECT_FALSE(again.reused());
  EXPECT_FALSE(Backend(*again).empty());
}

}  // namespace
}  // namespace ca::kv::postgres
