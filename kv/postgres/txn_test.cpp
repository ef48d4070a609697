// The kv::Env semantics (kv/kv.h) checked on both engines, then what only PostgreSQL has
// (serialization conflicts, a lost connection, reconnection).
#include "kv/postgres/txn.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "kv/kv.h"
#include "kv/postgres/migrations.h"
#include "kv/postgres/testing/pg_fixture.h"

namespace ca::kv::postgres {
namespace {

class KvSemantics : public PgTest, public ::testing::WithParamInterface<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Engine::kPostgres) {
      PgTest::SetUp();
      if (HasFatalFailure()) return;
      location_ = Location();
    } else {
      std::string tmpl = (std::filesystem::temp_directory_path() / "kv-lmdb-XXXXXX").string();
      ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
      lmdb_dir_ = location_ = tmpl;
    }
    auto env = Env::Open({.location = location_, .create = true});
    ASSERT_TRUE(env.has_value()) << env.error().ToString();
    env_.emplace(std::move(*env));
    table_ = PG_ASSERT_OK(env_->OpenTable("records", true));
    other_ = PG_ASSERT_OK(env_->OpenTable("other", true));
  }
  void TearDown() override {
    env_.reset();
    if (!lmdb_dir_.empty()) std::filesystem::remove_all(lmdb_dir_);
  }

  void PutAll(const std::map<std::string, std::string>& records) {
    auto txn = PG_ASSERT_OK(Txn::BeginWrite(*env_));
    for (const auto& [k, v] : records) PG_ASSERT_OK(txn.Put(table_, k, v));
    PG_ASSERT_OK(txn.Commit());
  }
  std::optional<std::string> Read(const std::string& key) {
    auto txn = Txn::BeginRead(*env_);
    EXPECT_TRUE(txn.has_value()) << txn.error().ToString();
    auto got = txn->Get(table_, key);
    EXPECT_TRUE(got.has_value()) << got.error().ToString();
    if (!got || !*got) return std::nullopt;
    return std::string(**got);
  }
  std::vector<std::string> Keys(std::string_view prefix, std::string_view from = {}) {
    std::vector<std::string> keys;
    auto txn = Txn::BeginRead(*env_);
    EXPECT_TRUE(txn.has_value());
    auto visited = txn->ForEachFrom(table_, prefix, from.empty() ? prefix : from,
                                    [&](std::string_view k, std::string_view) {
                                      keys.emplace_back(k);
                                      return true;
                                    });
    EXPECT_TRUE(visited.has_value()) << visited.error().ToString();
    return keys;
  }

  std::string location_;
  std::string lmdb_dir_;
  std::optional<Env> env_;
  Table table_ = 0;
  Table other_ = 0;
};

using namespace std::string_literals;

TEST_P(KvSemantics, PutGetInsertDelete) {
  auto txn = PG_ASSERT_OK(Txn::BeginWrite(*env_));
  PG_ASSERT_OK(txn.Put(table_, "k\0\xff"s, "v1\0"s));
  PG_ASSERT_OK(txn.Put(table_, "empty", ""));
  PG_ASSERT_OK(txn.Put(table_, "k\0\xff"s, "v2\0"s));  // upsert
  auto refused = txn.Insert(table_, "k\0\xff"s, "v3");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kAlreadyExists);
  PG_ASSERT_OK(txn.Insert(table_, "new", "n"));  // the transaction goes on after a refusal
  PG_ASSERT_OK(txn.Put(other_, "new", "in the other table"));
  EXPECT_EQ(PG_ASSERT_OK(txn.Get(table_, "k\0\xff"s)), std::optional<std::string_view>("v2\0"s));
  PG_ASSERT_OK(txn.Commit());

  EXPECT_EQ(Read("k\0\xff"s), "v2\0"s);
  EXPECT_EQ(Read("empty"), "");
  EXPECT_EQ(Read("new"), "n");
  EXPECT_EQ(Read("absent"), std::nullopt);

  auto del = PG_ASSERT_OK(Txn::BeginWrite(*env_));
  EXPECT_TRUE(PG_ASSERT_OK(del.Delete(table_, "new")));
  EXPECT_FALSE(PG_ASSERT_OK(del.Delete(table_, "new")));
  PG_ASSERT_OK(del.Commit());
  EXPECT_EQ(Read("new"), std::nullopt);
  auto other = PG_ASSERT_OK(Txn::BeginRead(*env_));
  EXPECT_EQ(PG_ASSERT_OK(other.Get(other_, "new")),
            std::optional<std::string_view>("in the other table"));
}

TEST_P(KvSemantics, KeysAreOneTo511Bytes) {
  auto txn = PG_ASSERT_OK(Txn::BeginWrite(*env_));
  PG_ASSERT_OK(txn.Put(table_, std::string(511, 'k'), "max"));
  for (const std::string& bad : {std::string(), std::string(512, 'k')}) {
    auto put = txn.Put(table_, bad, "v");
    ASSERT_FALSE(put.has_value()) << bad.size();
    if (GetParam() == Engine::kPostgres) {
      EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument);
      EXPECT_EQ(put.error().message,
                "key of " + std::to_string(bad.size()) + " bytes: keys are 1 to 511 bytes");
    }
  }
  PG_ASSERT_OK(txn.Commit());
  EXPECT_EQ(Read(std::string(511, 'k')), "max");
}

TEST_P(KvSemantics, AbortAndDestructionWriteNothing) {
  {
    auto txn = PG_ASSERT_OK(Txn::BeginWrite(*env_));
    PG_ASSERT_OK(txn.Put(table_, "a", "1"));
    txn.Abort();
  }
  {
    auto txn = PG_ASSERT_OK(Txn::BeginWrite(*env_));
    PG_ASSERT_OK(txn.Put(table_, "b", "1"));
  }
  EXPECT_EQ(Read("a"), std::nullopt);
  EXPECT_EQ(Read("b"), std::nullopt);
}

TEST_P(KvSemantics, ReadTransactionRefusesWrites) {
  auto txn = PG_ASSERT_OK(Txn::BeginRead(*env_));
  EXPECT_FALSE(txn.writable());
  auto put = txn.Put(table_, "a", "1");
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code,
            GetParam() == Engine::kPostgres ? ErrorCode::kFailedPrecondition : put.error().code);
  txn.Abort();
  EXPECT_EQ(Read("a"), std::nullopt);
}

TEST_P(KvSemantics, ForEachVisitsThePrefixInBytewiseOrder) {
  PutAll({{"a", "0"},
          {"a\0"s, "1"},
          {"a\x01", "2"},
          {"ab", "3"},
          {"a\xff", "4"},
          {"a\xff\xff", "5"},
          {"b", "6"},
          {"\xff\xff", "7"},
          {"\xff", "8"}});
  EXPECT_EQ(Keys("a"),
            (std::vector<std::string>{"a", "a\0"s, "a\x01", "ab", "a\xff", "a\xff\xff"}));
  EXPECT_EQ(Keys("a\xff"), (std::vector<std::string>{"a\xff", "a\xff\xff"}));
  EXPECT_EQ(Keys("\xff"), (std::vector<std::string>{"\xff", "\xff\xff"}));
  EXPECT_EQ(Keys("a", "a\x01"), (std::vector<std::string>{"a\x01", "ab", "a\xff", "a\xff\xff"}));
  EXPECT_EQ(Keys("c"), std::vector<std::string>{});
  EXPECT_EQ(Keys("").size(), 9u);
  // Stops when the callback says so.
  auto txn = PG_ASSERT_OK(Txn::BeginRead(*env_));
  int seen = 0;
  PG_ASSERT_OK(
      txn.ForEach(table_, "a", [&](std::string_view, std::string_view) { return ++seen < 2; }));
  EXPECT_EQ(seen, 2);
}

TEST_P(KvSemantics, LongScansKeepEveryViewValidUntilTheTransactionEnds) {
  std::map<std::string, std::string> records;
  for (int i = 0; i < 1000; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "p%05d", i);
    records[key] = std::string(100, static_cast<char>('a' + i % 26));
  }
  records["q"] = "outside";
  PutAll(records);
  auto txn = PG_ASSERT_OK(Txn::BeginRead(*env_));
  std::vector<std::pair<std::string_view, std::string_view>> views;
  PG_ASSERT_OK(txn.ForEach(table_, "p", [&](std::string_view k, std::string_view v) {
    views.emplace_back(k, v);
    return true;
  }));
  auto got = PG_ASSERT_OK(txn.Get(table_, "q"));
  ASSERT_EQ(views.size(), 1000u);
  size_t i = 0;
  for (const auto& [k, v] : records) {
    if (k == "q") continue;
    EXPECT_EQ(views[i].first, k);
    EXPECT_EQ(views[i].second, v);
    ++i;
  }
  EXPECT_EQ(got, std::optional<std::string_view>("outside"));
}

TEST_P(KvSemantics, ReadTransactionIsOneSnapshotAndRenewSeesNewCommits) {
  PutAll({{"k", "old"}});
  auto reader = PG_ASSERT_OK(Txn::BeginRead(*env_));
  EXPECT_EQ(PG_ASSERT_OK(reader.Get(table_, "k")), std::optional<std::string_view>("old"));
  PutAll({{"k", "new"}, {"k2", "x"}});
  EXPECT_EQ(PG_ASSERT_OK(reader.Get(table_, "k")), std::optional<std::string_view>("old"));
  EXPECT_EQ(PG_ASSERT_OK(reader.Get(table_, "k2")), std::nullopt);
  reader.Reset();
  PG_ASSERT_OK(reader.Renew());
  EXPECT_EQ(PG_ASSERT_OK(reader.Get(table_, "k")), std::optional<std::string_view>("new"));
}

INSTANTIATE_TEST_SUITE_P(Engines, KvSemantics, ::testing::Values(Engine::kPostgres, Engine::kLmdb),
                         [](const auto& param_info) {
                           return param_info.param == Engine::kPostgres ? "Postgres" : "Lmdb";
                         });

// PostgreSQL only from here.
class PgTxnTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) return;
    env_.emplace(PG_ASSERT_OK(Env::Open({.location = Location(), .create = true})));
    table_ = PG_ASSERT_OK(env_->OpenTable("t", true));
  }
  std::optional<Env> env_;
  Table table_ = 0;
};

TEST_F(PgTxnTest, ConcurrentWritersOfOneKeyConflictAndTheLoserWroteNothing) {
  auto a = PG_ASSERT_OK(Txn::BeginWrite(*env_));
  auto b = PG_ASSERT_OK(Txn::BeginWrite(*env_));
  EXPECT_EQ(PG_ASSERT_OK(a.Get(table_, "serial")), std::nullopt);
  EXPECT_EQ(PG_ASSERT_OK(b.Get(table_, "serial")), std::nullopt);
  PG_ASSERT_OK(a.Insert(table_, "serial", "a"));
  PG_ASSERT_OK(a.Put(table_, "by-a", "1"));
  PG_ASSERT_OK(a.Commit());
  // b read a state a changed: inserting now (or committing) is a serialization failure.
  auto inserted = b.Insert(table_, "serial", "b");
  Status outcome = inserted.has_value() ? b.Commit() : Status(std::unexpected(inserted.error()));
  ASSERT_FALSE(outcome.has_value());
  EXPECT_TRUE(IsConflict(outcome.error())) << outcome.error().ToString();
  if (inserted.has_value()) {
    SUCCEED();
  } else {
    // Later statements and the commit report the same failure; nothing was written.
    auto after = b.Put(table_, "by-b", "1");
    ASSERT_FALSE(after.has_value());
    EXPECT_TRUE(after.error().message.starts_with("transaction already failed: write conflict: "))
        << after.error().message;
    auto commit = b.Commit();
    ASSERT_FALSE(commit.has_value());
    EXPECT_TRUE(IsConflict(commit.error()));
  }
  auto check = PG_ASSERT_OK(Txn::BeginRead(*env_));
  EXPECT_EQ(PG_ASSERT_OK(check.Get(table_, "serial")), std::optional<std::string_view>("a"));
  EXPECT_EQ(PG_ASSERT_OK(check.Get(table_, "by-b")), std::nullopt);
}

// Two nodes' Envs, several threads each, allocate serials from one counter (read, increment,
// insert the serial's record), rerunning a transaction that IsConflict: every allocation lands
// exactly once, no serial twice: SERIALIZABLE plus the rerun rule give the LMDB single writer's
// outcome.
TEST_F(PgTxnTest, ContendedCounterWithRerunsNeverDuplicatesASerial) {
  auto node_b = PG_ASSERT_OK(Env::Open({.location = Location()}));
  Table table_b = PG_ASSERT_OK(node_b.OpenTable("t", true));
  constexpr int kThreadsPerNode = 3, kAllocations = 15;
  std::atomic<int> conflicts{0};
  auto allocate = [&](const Env& env, Table table) -> Status {
    for (;;) {
      auto attempt = [&]() -> Status {
        auto txn = CA_TRY(Txn::BeginWrite(env));
        auto current = CA_TRY(txn.Get(table, "counter"));
        int next = current ? std::stoi(std::string(*current)) + 1 : 1;
        CA_TRY_STATUS(txn.Put(table, "counter", std::to_string(next)));
        CA_TRY_STATUS(txn.Insert(table, "serial-" + std::to_string(next), "issued"));
        return txn.Commit();
      }();
      if (attempt || !IsConflict(attempt.error())) return attempt;
      ++conflicts;
    }
  };
  std::vector<std::thread> threads;
  std::vector<std::string> errors;
  std::mutex errors_mu;
  for (int node = 0; node < 2; ++node) {
    for (int t = 0; t < kThreadsPerNode; ++t) {
      threads.emplace_back([&, node] {
        for (int i = 0; i < kAllocations; ++i) {
          auto done = node == 0 ? allocate(*env_, table_) : allocate(node_b, table_b);
          if (!done) {
            std::lock_guard lock(errors_mu);
            errors.push_back(done.error().ToString());
          }
        }
      });
    }
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors, std::vector<std::string>{});
  constexpr int kTotal = 2 * kThreadsPerNode * kAllocations;
  auto read = PG_ASSERT_OK(Txn::BeginRead(*env_));
  EXPECT_EQ(PG_ASSERT_OK(read.Get(table_, "counter")),
            std::optional<std::string_view>(std::to_string(kTotal)));
  int serials = 0;
  PG_ASSERT_OK(read.ForEach(table_, "serial-", [&](std::string_view, std::string_view) {
    ++serials;
    return true;
  }));
  EXPECT_EQ(serials, kTotal);
  EXPECT_GT(conflicts.load(), 0);  // the race was real
}

TEST_F(PgTxnTest, NamespacesOfOneDatabaseAreSeparate) {
  auto other = PG_ASSERT_OK(Env::Open({.location = Location("other"), .create = true}));
  Table t = PG_ASSERT_OK(other.OpenTable("t", true));
  auto txn = PG_ASSERT_OK(Txn::BeginWrite(*env_));
  PG_ASSERT_OK(txn.Put(table_, "k", "mine"));
  PG_ASSERT_OK(txn.Commit());
  auto read = PG_ASSERT_OK(Txn::BeginRead(other));
  EXPECT_EQ(PG_ASSERT_OK(read.Get(t, "k")), std::nullopt);
  auto usage = PG_ASSERT_OK(env_->GetUsage());
  EXPECT_EQ(usage.map_bytes, 0u);
  EXPECT_GT(usage.used_bytes, 0u);
}

TEST_F(PgTxnTest, LostConnectionIsUnavailableAndTheNextTransactionReconnects) {
  { PG_ASSERT_OK(Txn::BeginRead(*env_)); }  // one idle pooled connection
  auto txn = PG_ASSERT_OK(Txn::BeginWrite(*env_));
  PG_ASSERT_OK(txn.Put(table_, "k", "v"));
  PG_ASSERT_OK(cluster_->Kill());
  auto lost = txn.Get(table_, "k");
  ASSERT_FALSE(lost.has_value());
  EXPECT_EQ(lost.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(lost.error().message.starts_with("PostgreSQL connection lost during kv_get: "))
      << lost.error().message;
  txn.Abort();
  auto down = Txn::BeginRead(*env_);
  ASSERT_FALSE(down.has_value());
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable) << down.error().ToString();
  PG_ASSERT_OK(cluster_->Restart());
  auto again = PG_ASSERT_OK(Txn::BeginWrite(*env_));
  EXPECT_EQ(PG_ASSERT_OK(again.Get(table_, "k")), std::nullopt);  // the lost write never committed
  PG_ASSERT_OK(again.Put(table_, "k", "after"));
  PG_ASSERT_OK(again.Commit());
}

TEST_F(PgTxnTest, IdleConnectionsDeadAfterARestartAreReplacedTransparently) {
  {
    auto a = PG_ASSERT_OK(Txn::BeginRead(*env_));
    auto b = PG_ASSERT_OK(Txn::BeginRead(*env_));
  }
  PG_ASSERT_OK(cluster_->Stop());
  PG_ASSERT_OK(cluster_->Restart());
  auto txn = PG_ASSERT_OK(Txn::BeginWrite(*env_));
  PG_ASSERT_OK(txn.Put(table_, "k", "v"));
  PG_ASSERT_OK(txn.Commit());
}

// A service naming two hosts with target_session_attrs=read-write (what a pair's service file
// does): when the primary dies and the other server becomes writable, the next transaction
// reconnects there by itself.
TEST_F(PgTxnTest, FailoverReconnectsToTheServerThatBecameWritable) {
  auto other = PG_ASSERT_OK(PgCluster::Start());  // points PGSERVICEFILE at its own file
  PG_ASSERT_OK(other->CreateDatabase(service_));
  std::string other_db = "host=" + other->dir() + "/sock dbname=" + service_ + " user=postgres";
  {
    auto admin = PG_ASSERT_OK(Connection::Open(other_db, "standby"));
    PG_ASSERT_OK(Migrate(admin));
    // Standing for a standby: libpq's read-write probe reads transaction_read_only.
    PG_ASSERT_OK(admin.Exec("ALTER SYSTEM SET default_transaction_read_only = on", "ro"));
    PG_ASSERT_OK(admin.Exec("SELECT pg_reload_conf()", "reload"));
  }
  std::string pair_file = other->dir() + "/pair.conf";
  {
    std::ofstream out(pair_file);
    out << "[pair]\nhost=" << cluster_->dir() << "/sock," << other->dir()
        << "/sock\ndbname=" << service_ << "\nuser=postgres\ntarget_session_attrs=read-write\n";
  }
  ::setenv("PGSERVICEFILE", pair_file.c_str(), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the reload reaches new backends
  {
    auto pair = PG_ASSERT_OK(Env::Open({.location = "pg:pair/failover"}));
    Table t = PG_ASSERT_OK(pair.OpenTable("t", true));
    auto first = PG_ASSERT_OK(Txn::BeginWrite(pair));
    PG_ASSERT_OK(first.Put(t, "written-on", "first primary"));
    PG_ASSERT_OK(first.Commit());

    PG_ASSERT_OK(cluster_->Kill());
    {
      auto promote = PG_ASSERT_OK(Connection::Open(other_db, "promote"));
      PG_ASSERT_OK(promote.Exec("ALTER SYSTEM RESET default_transaction_read_only", "rw"));
      PG_ASSERT_OK(promote.Exec("SELECT pg_reload_conf()", "reload"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto second = PG_ASSERT_OK(Txn::BeginWrite(pair));  // the pooled connection was dead
    PG_ASSERT_OK(second.Put(t, "after-failover", "second primary"));
    PG_ASSERT_OK(second.Commit());
    auto check = PG_ASSERT_OK(Connection::Open(other_db, "check"));
    // The second server has the write made after the failover, not the one made before it
    // (no replication between these two test servers): each went where it should.
    auto rows = PG_ASSERT_OK(check.Exec(
        "SELECT string_agg(convert_from(k, 'UTF8'), ',') FROM kv WHERE ns = 'failover'", "check"));
    EXPECT_EQ(Value(rows.get(), 0, 0), "after-failover");
  }
  ::setenv("PGSERVICEFILE", cluster_->service_file().c_str(), 1);
  PG_ASSERT_OK(cluster_->Restart());
}

TEST_F(PgTxnTest, ConnectionLostDuringCommitSaysTheOutcomeIsUnknown) {
  auto txn = PG_ASSERT_OK(Txn::BeginWrite(*env_));
  PG_ASSERT_OK(txn.Put(table_, "k", "v"));
  // Terminate this transaction's backend from another session, then commit.
  auto admin = PG_ASSERT_OK(Connection::Open(Conninfo(), "admin"));
  PG_ASSERT_OK(
      admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                 " WHERE state = 'idle in transaction' AND pid <> pg_backend_pid()",
                 "terminate"));
  auto committed = txn.Commit();
  ASSERT_FALSE(committed.has_value());
  EXPECT_EQ(committed.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(committed.error().message.starts_with(
      "commit outcome unknown: the PostgreSQL connection was lost during COMMIT"))
      << committed.error().message;
}

TEST_F(PgTxnTest, UnknownServiceIsUnavailableWithTheLocation) {
  auto env = Env::Open({.location = "pg:nosuchservice/x"});
  ASSERT_FALSE(env.has_value());
  EXPECT_EQ(env.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(
      env.error().message.starts_with("cannot connect to PostgreSQL (pg:nosuchservice/x): "))
      << env.error().message;
  auto bad = Env::Open({.location = "pg:svc/BAD"});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ca::kv::postgres
