#include "kv/lmdb_env.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "kv/kv.h"

namespace ca::kv {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/kv_lmdb_env_test_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(LmdbEnv, WritesReadsAndScansInKeyOrder) {
  TempDir dir;
  auto env = Env::Open({.location = dir.path, .create = true});
  ASSERT_TRUE(env) << env.error().ToString();
  EXPECT_EQ(env->engine(), Engine::kLmdb);
  EXPECT_EQ(env->location(), std::filesystem::canonical(dir.path).string());
  Table t = *env->OpenTable("t", true);
  {
    auto txn = *Txn::BeginWrite(*env);
    EXPECT_TRUE(txn.writable());
    ASSERT_TRUE(txn.Put(t, "b/2", "two"));
    ASSERT_TRUE(txn.Put(t, "b/1", "one"));
    ASSERT_TRUE(txn.Put(t, "a", "x"));
    auto dup = txn.Insert(t, "a", "y");
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
    EXPECT_TRUE(*txn.Delete(t, "a"));
    EXPECT_FALSE(*txn.Delete(t, "a"));
    ASSERT_TRUE(txn.Commit());
  }
  auto txn = *Txn::BeginRead(*env);
  EXPECT_FALSE(txn.writable());
  std::string seen;
  ASSERT_TRUE(txn.ForEach(t, "b/", [&](std::string_view k, std::string_view v) {
    seen += std::string(k) + "=" + std::string(v) + ";";
    return true;
  }));
  EXPECT_EQ(seen, "b/1=one;b/2=two;");
  EXPECT_FALSE(txn.Get(t, "a")->has_value());
  auto usage = env->GetUsage();
  ASSERT_TRUE(usage);
  EXPECT_GT(usage->map_bytes, 0u);
  EXPECT_GT(usage->used_bytes, 0u);
}

// A kept read transaction sees, after Reset + Renew, what was committed in between.
TEST(LmdbEnv, ResetAndRenewTakeANewSnapshot) {
  TempDir dir;
  auto env = std::move(*Env::Open({.location = dir.path, .create = true}));
  Table t = *env.OpenTable("t", true);
  auto reader = *Txn::BeginRead(env);
  EXPECT_FALSE(reader.Get(t, "k")->has_value());
  reader.Reset();
  {
    auto w = *Txn::BeginWrite(env);
    ASSERT_TRUE(w.Put(t, "k", "v"));
    ASSERT_TRUE(w.Commit());
  }
  ASSERT_TRUE(reader.Renew());
  auto got = reader.Get(t, "k");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, "v");
}

TEST(LmdbEnv, LeasesAndFencesNeedPostgres) {
  TempDir dir;
  auto env = std::move(*Env::Open({.location = dir.path, .create = true}));
  auto lease = env.AcquireLease("engine-test", "node-a", std::chrono::seconds(10));
  ASSERT_FALSE(lease);
  EXPECT_EQ(lease.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(lease.error().message, "leases need the PostgreSQL store");
  EXPECT_FALSE(env.ReadLease("engine-test"));
  EXPECT_FALSE(env.ReleaseLease("engine-test", "node-a"));
  EXPECT_FALSE(env.SetFence(std::make_shared<Fence>()));
  auto replication = env.GetReplication();
  ASSERT_FALSE(replication);
  EXPECT_EQ(replication.error().message, "replication states need the PostgreSQL store");
}

TEST(LmdbEnv, ReadOnlyEnvRefusesWritesAndAStoreOpensOncePerProcess) {
  TempDir dir;
  auto writer = Env::Open({.location = dir.path, .create = true});
  ASSERT_TRUE(writer);
  auto again = Env::Open({.location = dir.path});
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("already open"), std::string::npos);
  writer = Env::Open({.location = "/nonexistent/kv"});
  ASSERT_FALSE(writer);  // the first Env is closed by the assignment
  auto reader = Env::Open({.location = dir.path, .read_only = true});
  ASSERT_TRUE(reader) << reader.error().ToString();
  auto w = Txn::BeginWrite(*reader);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(w.error().message.find("read-only"), std::string::npos);
}

}  // namespace
}  // namespace ca::kv
