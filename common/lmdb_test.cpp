#include "common/lmdb.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace ca::lmdb {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/lmdb_test_XXXXXX";
  return mkdtemp(tmpl);
}

TEST(Lmdb, WriteThenReadInNewTransaction) {
  auto dir = TempDir();
  auto env = Env::Open({.path = dir, .create = true});
  ASSERT_TRUE(env) << env.error().ToString();
  auto dbi = env->OpenDb("things", true);
  ASSERT_TRUE(dbi);
  {
    auto txn = Txn::BeginWrite(*env);
    ASSERT_TRUE(txn);
    ASSERT_TRUE(txn->Put(*dbi, "a:1", "one"));
    ASSERT_TRUE(txn->Put(*dbi, "a:2", "two"));
    ASSERT_TRUE(txn->Put(*dbi, "b:1", "other"));
    EXPECT_EQ(txn->Insert(*dbi, "a:1", "again").error().code, ErrorCode::kAlreadyExists);
    ASSERT_TRUE(txn->Commit());
  }
  auto txn = Txn::BeginRead(*env);
  ASSERT_TRUE(txn);
  auto v = txn->Get(*dbi, "a:2");
  ASSERT_TRUE(v && v->has_value());
  EXPECT_EQ(**v, "two");
  std::vector<std::string> keys;
  ASSERT_TRUE(txn->ForEach(*dbi, "a:", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  }));
  EXPECT_EQ(keys, (std::vector<std::string>{"a:1", "a:2"}));
  std::filesystem::remove_all(dir);
}

TEST(Lmdb, AbortedWriteLeavesNothing) {
  auto dir = TempDir();
  auto env = Env::Open({.path = dir, .create = true});
  ASSERT_TRUE(env);
  auto dbi = *env->OpenDb("t", true);
  {
    auto txn = Txn::BeginWrite(*env);
    ASSERT_TRUE(txn->Put(dbi, "k", "v"));
  }  // destructor aborts
  auto txn = Txn::BeginRead(*env);
  EXPECT_FALSE(txn->Get(dbi, "k")->has_value());
  std::filesystem::remove_all(dir);
}

TEST(Lmdb, RefusesSecondOpenInOneProcess) {
  auto dir = TempDir();
  auto env = Env::Open({.path = dir, .create = true});
  ASSERT_TRUE(env);
  auto again = Env::Open({.path = dir, .read_only = true});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);
  std::filesystem::remove_all(dir);
}

TEST(Lmdb, ReadOnlyEnvRefusesWrites) {
  auto dir = TempDir();
  {
    auto env = Env::Open({.path = dir, .create = true});
    ASSERT_TRUE(env->OpenDb("t", true));
  }
  auto env = Env::Open({.path = dir, .read_only = true});
  ASSERT_TRUE(env) << env.error().ToString();
  EXPECT_EQ(Txn::BeginWrite(*env).error().code, ErrorCode::kPermissionDenied);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ca::lmdb
