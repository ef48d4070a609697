// AcmeStore writes through the group committer: concurrent requests' writes all land durably, and a
// write that fails takes only its own changes with it.
#include "gateway/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/encoding.h"

namespace ca::gateway {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("gw-store-" + RandomUuidV4());
    store_.emplace(std::move(*AcmeStore::Open(dir_.string())));
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    auto reopened = AcmeStore::Open(dir_.string());
    ASSERT_TRUE(reopened) << reopened.error().ToString();
    store_.emplace(std::move(*reopened));
  }
  static OrderRecord Order(const std::string& id) {
    OrderRecord o;
    o.id = id;
    o.account_id = "acct";
    o.status = OrderStatus::kPending;
    o.created_at = 1000;
    o.names = {id + ".example.com"};
    return o;
  }
  std::filesystem::path dir_;
  std::optional<AcmeStore> store_;
};

TEST_F(StoreTest, ConcurrentWritersAreAllCommittedInSharedTransactions) {
  constexpr int kThreads = 16, kPerThread = 20;
  std::atomic<int> missing{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "o" + std::to_string(t) + "x" + std::to_string(i);
        Status s = store_->Write([&](StoreTxn& txn) { return txn.PutOrder(Order(id)); });
        ASSERT_TRUE(s) << s.error().ToString();
        // Answered only once committed: a new read transaction sees it.
        auto txn = store_->Read();
        auto got = txn->GetOrder(id);
        if (!got || !*got || (*got)->names != Order(id).names) ++missing;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(missing, 0);
  auto stats = store_->commit_stats();
  EXPECT_EQ(stats.ops, uint64_t{kThreads * kPerThread});
  EXPECT_LT(stats.batches, stats.ops);
  Reopen();
  auto txn = store_->Read();
  auto ids = txn->ListOrderIds("acct");
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->size(), size_t{kThreads * kPerThread});
}

TEST_F(StoreTest, FailedWriteLosesOnlyItsOwnChanges) {
  AccountRecord taken;
  taken.id = "holder";
  taken.jwk_thumbprint = "tp-taken";
  taken.external_account_kid = "kid";
  ASSERT_TRUE(store_->Write([&](StoreTxn& txn) {
    return txn.CreateAccount(taken, {{"kty", "EC"}});
  }));

  constexpr int kThreads = 12;
  std::vector<std::thread> threads;
  std::atomic<int> conflicts{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      if (t % 3 == 0) {
        // Writes an order, then binds a key that is already bound: the whole write must vanish.
        Status s = store_->Write([&](StoreTxn& txn) -> Status {
          CA_TRY_STATUS(txn.PutOrder(Order("doomed" + std::to_string(t))));
          AccountRecord dup = taken;
          dup.id = "dup" + std::to_string(t);
          return txn.CreateAccount(dup, {{"kty", "EC"}});
        });
        if (!s && s.error().code == ErrorCode::kAlreadyExists) ++conflicts;
      } else {
        Status s = store_->Write(
            [&](StoreTxn& txn) { return txn.PutOrder(Order("kept" + std::to_string(t))); });
        EXPECT_TRUE(s);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(conflicts, kThreads / 3);
  Reopen();
  auto txn = store_->Read();
  for (int t = 0; t < kThreads; ++t) {
    auto kept = txn->GetOrder("kept" + std::to_string(t));
    auto doomed = txn->GetOrder("doomed" + std::to_string(t));
    ASSERT_TRUE(kept && doomed);
    EXPECT_EQ(kept->has_value(), t % 3 != 0) << t;
    EXPECT_FALSE(doomed->has_value()) << t;
    auto dup = txn->GetAccount("dup" + std::to_string(t));
    ASSERT_TRUE(dup);
    EXPECT_FALSE(dup->has_value());
  }
  auto holder = txn->FindAccountByThumbprint("tp-taken");
  ASSERT_TRUE(holder && *holder);
  EXPECT_EQ(**holder, "holder");
}

// Records are read by the one strict reader: a record written before a field existed (or with a
// field since dropped, the certificate's old "revoked" flag) still loads; a wrong type is kCorrupt.
TEST_F(StoreTest, OldRecordsLoadAndMistypedFieldsAreCorrupt) {
  auto& env = const_cast<kv::Env&>(store_->env());
  auto certs = env.OpenTable("certificates", false);
  ASSERT_TRUE(certs) << certs.error().ToString();
  auto txn = kv::Txn::BeginWrite(env);
  ASSERT_TRUE(txn);
  ASSERT_TRUE(txn->Put(*certs, "0a", R"({"serial_hex":"0a","account_id":"a","revoked":true})"));
  ASSERT_TRUE(txn->Put(*certs, "0b", R"({"serial_hex":"0b","not_after":"soon"})"));
  ASSERT_TRUE(txn->Commit());

  auto read = store_->Read();
  ASSERT_TRUE(read);
  auto old = read->GetCert("0a");
  ASSERT_TRUE(old) << old.error().ToString();
  ASSERT_TRUE(old->has_value());
  EXPECT_EQ((*old)->account_id, "a");
  EXPECT_EQ((*old)->not_after, 0);
  auto bad = read->GetCert("0b");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(bad.error().message.find("certificate.not_after"), std::string::npos);
}

// Issue 15: what a restarted gateway resumes is indexed, not scanned for; the order's CSR is kept
// while it is processing.
TEST_F(StoreTest, ProcessingOrdersAndChallengesAreIndexed) {
  OrderRecord o = Order("o1");
  o.status = OrderStatus::kProcessing;
  o.finalize_csr = "MIIB";
  o.policy_version = 42;
  ChallengeRecord c;
  c.id = "c1";
  c.status = ChallengeStatus::kProcessing;
  ASSERT_TRUE(store_->Write([&](StoreTxn& txn) -> Status {
    CA_TRY_STATUS(txn.PutOrder(o));
    CA_TRY_STATUS(txn.PutOrder(Order("o2")));
    return txn.PutChallenge(c);
  }));
  Reopen();
  {
    auto txn = store_->Read();
    EXPECT_EQ(*txn->ProcessingOrderIds(), std::vector<std::string>{"o1"});
    EXPECT_EQ(*txn->ProcessingChallengeIds(), std::vector<std::string>{"c1"});
    auto got = txn->GetOrder("o1");
    EXPECT_EQ((*got)->finalize_csr, "MIIB");
    EXPECT_EQ((*got)->policy_version, 42u);
  }
  o.status = OrderStatus::kValid;
  c.status = ChallengeStatus::kValid;
  ASSERT_TRUE(store_->Write([&](StoreTxn& txn) -> Status {
    CA_TRY_STATUS(txn.PutOrder(o));
    return txn.PutChallenge(c);
  }));
  auto txn = store_->Read();
  EXPECT_TRUE(txn->ProcessingOrderIds()->empty());
  EXPECT_TRUE(txn->ProcessingChallengeIds()->empty());
}

// A store written before the index: the processing records are indexed once, at open.
TEST_F(StoreTest, IndexIsBuiltForAStoreFromBeforeIt) {
  OrderRecord o = Order("old");
  o.status = OrderStatus::kProcessing;
  ASSERT_TRUE(store_->Write([&](StoreTxn& txn) { return txn.PutOrder(o); }));
  store_.reset();
  {  // Back to the state of an older store: no index at all.
    kv::EnvOptions options;
    options.location = dir_.string();
    auto env = kv::Env::Open(options);
    ASSERT_TRUE(env);
    auto dbi = env->OpenTable("processing", false);
    ASSERT_TRUE(dbi);
    auto txn = kv::Txn::BeginWrite(*env);
    ASSERT_TRUE(txn);
    ASSERT_TRUE(txn->Delete(*dbi, "o/old"));
    ASSERT_TRUE(txn->Delete(*dbi, "!built"));
    ASSERT_TRUE(txn->Commit());
  }
  Reopen();
  auto txn = store_->Read();
  EXPECT_EQ(*txn->ProcessingOrderIds(), std::vector<std::string>{"old"});
}

TEST_F(StoreTest, RecordsAreDecodedOnlyOnceWrittenThroughTheCache) {
  OrderRecord o = Order("o1");
  ASSERT_TRUE(store_->Write([&](StoreTxn& txn) { return txn.PutOrder(o); }));
  auto before = store_->record_cache_stats();
  {
    auto txn = store_->Read();
    auto got = txn->GetOrder("o1");
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((*got)->names, o.names);
  }
  auto after = store_->record_cache_stats();
  EXPECT_EQ(after.hits, before.hits + 1);  // the bytes just written: no JSON decoding
  EXPECT_EQ(after.misses, before.misses);
  // Written in an operation that fails: its bytes are never stored, the stored record is read.
  o.status = OrderStatus::kReady;
  EXPECT_FALSE(store_->Write([&](StoreTxn& txn) -> Status {
    CA_TRY_STATUS(txn.PutOrder(o));
    return Fail(ErrorCode::kInternal, "abandoned");
  }));
  auto txn = store_->Read();
  EXPECT_EQ((*txn->GetOrder("o1"))->status, OrderStatus::kPending);
}

}  // namespace
}  // namespace ca::gateway
