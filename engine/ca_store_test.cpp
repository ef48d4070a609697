#include "engine/ca_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "engine/testing/engine_fixture.h"

namespace ca::engine {
namespace {

TEST(CaStore, RecordRoundTripsAndRejectsCorruption) {
  CertRecord r;
  r.serial_hex = "0a0b";
  r.state = CertState::kIssued;
  r.der = {1, 2, 3};
  r.names = {"a.example.fr"};
  r.revoked = true;
  r.reason = 4;
  auto back = CertRecordFromJson("0a0b", CertRecordToJson(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->der, r.der);
  EXPECT_EQ(back->names, r.names);
  EXPECT_EQ(back->state, CertState::kIssued);
  EXPECT_EQ(back->reason, 4);
  EXPECT_FALSE(back->crl_shard);
  EXPECT_TRUE(back->ocsp);
  r.crl_shard = 63;
  r.ocsp = false;
  back = CertRecordFromJson("0a0b", CertRecordToJson(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->crl_shard, 63u);
  EXPECT_FALSE(back->ocsp);
  auto bad = CertRecordFromJson("0a0b", R"({"state":"weird"})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kCorrupt);
}

TEST(CaStore, GroupCommitBatchesConcurrentWritesAndIsolatesRefusals) {
  testing::TempDir dir;
  auto store = CaStore::Open(dir.Sub("ca"));
  ASSERT_TRUE(store) << store.error().ToString();
  constexpr int kThreads = 8, kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string key = std::to_string(t) + "-" + std::to_string(i);
        Status s = (*store)->Write([&](kv::Txn& txn, const StoreDbs& d) -> Status {
          if (i % 5 == 4) return Fail(ErrorCode::kAlreadyExists, "refused before writing");
          return txn.Put(d.meta, key, "v");
        });
        if (!s) ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(refused, kThreads * kPerThread / 5);
  // Refusals reach their callers without abandoning the batch of the others (no rerun).
  auto stats = (*store)->commit_stats();
  EXPECT_EQ(stats.ops, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(stats.reruns, 0u);
  EXPECT_LT(stats.batches, uint64_t{kThreads * kPerThread});
  auto txn = kv::Txn::BeginRead((*store)->env());
  size_t n = 0;
  ASSERT_TRUE(txn->ForEach((*store)->dbs().meta, "", [&](std::string_view, std::string_view) {
    ++n;
    return true;
  }));
  EXPECT_EQ(n, size_t{kThreads * kPerThread * 4 / 5});
}

}  // namespace
}  // namespace ca::engine
