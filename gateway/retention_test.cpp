// Retention and growth of the gateway store: expired orders go with their authorizations and
// challenges, recent ones stay; the rate-limit count is a range scan; a full map refuses writes
// cleanly and takes them again once pruning has freed pages.
#include "gateway/retention.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/encoding.h"

namespace ca::gateway {
namespace {

class RetentionTest : public ::testing::Test {
 protected:
  void Open(StoreOptions options = {}) {
    dir_ = std::filesystem::temp_directory_path() / ("gw-retention-" + RandomUuidV4());
    auto s = AcmeStore::Open(dir_.string(), options);
    ASSERT_TRUE(s) << s.error().ToString();
    store_.emplace(std::move(*s));
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // An order with one authorization holding two challenges.
  Status AddOrder(const std::string& id, int64_t created, int64_t expires, size_t padding = 0) {
    return store_->Write([&](StoreTxn& txn) -> Status {
      ChallengeRecord c1{id + "-c1", id + "-a", "acct", "http-01", "tok", ChallengeStatus::kPending, 0,
                         nullptr, 0};
      ChallengeRecord c2 = c1;
      c2.id = id + "-c2";
      c2.type = "dns-01";
      CA_TRY_STATUS(txn.PutChallenge(c1));
      CA_TRY_STATUS(txn.PutChallenge(c2));
      AuthzRecord a;
      a.id = id + "-a";
      a.account_id = "acct";
      a.order_id = id;
      a.name = id + ".example.com";
      a.expires = expires;
      a.challenge_ids = {c1.id, c2.id};
      CA_TRY_STATUS(txn.PutAuthz(a));
      OrderRecord o;
      o.id = id;
      o.account_id = "acct";
      o.created_at = created;
      o.expires = expires;
      o.names = {a.name + std::string(padding, 'x')};
      o.authz_ids = {a.id};
      return txn.PutOrder(o);
    });
  }
  bool HasOrder(const std::string& id) {
    auto txn = store_->Read();
    return txn && *txn->GetOrder(id) && *txn->GetAuthz(id + "-a") && *txn->GetChallenge(id + "-c1");
  }
  bool GoneCompletely(const std::string& id) {
    auto txn = store_->Read();
    return txn && !*txn->GetOrder(id) && !*txn->GetAuthz(id + "-a") && !*txn->GetChallenge(id + "-c1") &&
           !*txn->GetChallenge(id + "-c2");
  }

  std::filesystem::path dir_;
  std::optional<AcmeStore> store_;
  int64_t now_ = 10'000'000;
};

TEST_F(RetentionTest, ExpiredOrdersGoWithTheirAuthorizationsAndChallenges) {
  Open();
  const int64_t day = 86400;
  ASSERT_TRUE(AddOrder("old", now_ - 40 * day, now_ - 33 * day));
  ASSERT_TRUE(AddOrder("kept", now_ - 10 * day, now_ - 3 * day));  // expired, within retention
  ASSERT_TRUE(AddOrder("live", now_ - 60, now_ + 7 * day));
  ASSERT_TRUE(store_->Write([&](StoreTxn& txn) -> Status {
    CA_TRY_STATUS(txn.RecordFailedValidation("acct", "x.example.com", now_ - 2 * day));
    return txn.RecordFailedValidation("acct", "x.example.com", now_ - 60);
  }));
  RetentionOptions options;  // 30 days of orders, one day of failed validations
  StorePruner pruner(*store_, options, [&] { return now_; });
  auto pruned = pruner.RunOnce();
  ASSERT_TRUE(pruned) << pruned.error().ToString();
  EXPECT_EQ(pruned->orders, 1u);
  EXPECT_EQ(pruned->authorizations, 1u);
  EXPECT_EQ(pruned->challenges, 2u);
  EXPECT_EQ(pruned->failed_validations, 1u);
  EXPECT_TRUE(GoneCompletely("old"));
  EXPECT_TRUE(HasOrder("kept"));
  EXPECT_TRUE(HasOrder("live"));
  auto txn = store_->Read();
  EXPECT_EQ(*txn->ListOrderIds("acct"), (std::vector<std::string>{"kept", "live"}));
  EXPECT_EQ(txn->CountFailedValidations("acct", "x.example.com", now_, 7 * day)->first, 1u);
  // A second pass finds nothing.
  EXPECT_EQ(pruner.RunOnce()->orders, 0u);
}

TEST_F(RetentionTest, PassesRunInBatchesUntilDone) {
  Open();
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(AddOrder("o" + std::to_string(i), 1000 + i, 2000 + i));
  RetentionOptions options;
  options.batch = 4;
  StorePruner pruner(*store_, options, [&] { return now_; });
  auto pruned = pruner.RunOnce();
  ASSERT_TRUE(pruned);
  EXPECT_EQ(pruned->orders, 25u);
  EXPECT_TRUE(store_->Read()->ListOrderIds("acct")->empty());
}

TEST_F(RetentionTest, CountOrdersSinceCountsTheWindowOnly) {
  Open();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(AddOrder("o" + std::to_string(i), now_ - 7200 + i * 100, now_ + 1));
  auto txn = store_->Read();
  // created at now-7200 + i*100 >= now-3600  <=>  i >= 36
  EXPECT_EQ(*txn->CountOrdersSince("acct", now_ - 3600), 14u);
  EXPECT_EQ(*txn->CountOrdersSince("other", now_ - 3600), 0u);
}

TEST_F(RetentionTest, AFullMapRefusesCleanlyAndRecoversAfterPruning) {
  // 8 MiB: a few thousand orders. The 10 % reserve (800 KiB) is far more than the 64 writes
  // between two reads of the fill level can take, as it is for any real map.
  Open(StoreOptions{size_t{8} << 20});
  const int64_t day = 86400;
  int written = 0;
  Status refused = Ok();
  for (int i = 0; i < 100000 && refused; ++i) {
    refused = AddOrder("f" + std::to_string(i), now_ - 40 * day, now_ - 33 * day, 500);
    if (refused) ++written;
  }
  ASSERT_FALSE(refused) << "the map never filled";
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted) << refused.error().ToString();
  ASSERT_GT(written, 10);
  // Nothing of the refused write landed, every acknowledged one did, and the store still reads.
  EXPECT_FALSE(*store_->Read()->GetOrder("f" + std::to_string(written)));
  EXPECT_TRUE(HasOrder("f" + std::to_string(written - 1)));
  auto usage = store_->env().GetUsage();
  ASSERT_TRUE(usage);
  EXPECT_GT(usage->used_bytes * 10, usage->map_bytes * 8) << usage->used_bytes;
  // Retention frees the pages; the next write succeeds without a restart.
  StorePruner pruner(*store_, RetentionOptions{}, [&] { return now_; });
  auto pruned = pruner.RunOnce();
  ASSERT_TRUE(pruned) << pruned.error().ToString();
  EXPECT_EQ(pruned->orders, static_cast<size_t>(written));
  EXPECT_TRUE(AddOrder("after", now_, now_ + day));
  EXPECT_LT(store_->env().GetUsage()->used_bytes * 2, usage->map_bytes);
}

TEST_F(RetentionTest, ASmallMapKeepsEnoughReserveToPrune) {
  // 1 MiB: its 10 % (26 pages) is less than a write copies with the pages the previous one freed
  // still pinned; the reserve is at least AcmeStore::kMinReserveBytes. Before that floor the map
  // filled (MDB_MAP_FULL) under the gate, and retention could not delete either.
  Open(StoreOptions{size_t{1} << 20});
  const int64_t day = 86400;
  int written = 0;
  Status refused = Ok();
  for (int i = 0; i < 10000 && refused; ++i) {
    refused = AddOrder("s" + std::to_string(i), now_ - 40 * day, now_ - 33 * day, 300);
    if (refused) ++written;
  }
  ASSERT_FALSE(refused) << "the map never filled";
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(refused.error().message.find("MDB_MAP_FULL"), std::string::npos)
      << "refused by LMDB, not by the reserve: " << refused.error().ToString();
  StorePruner pruner(*store_, RetentionOptions{}, [&] { return now_; });
  auto pruned = pruner.RunOnce();
  ASSERT_TRUE(pruned) << pruned.error().ToString();
  EXPECT_EQ(pruned->orders, static_cast<size_t>(written));
  EXPECT_TRUE(AddOrder("after", now_, now_ + day));
}

TEST_F(RetentionTest, AStoreWithoutTheExpiryIndexIsIndexedAtOpen) {
  Open();
  ASSERT_TRUE(AddOrder("old", now_ - 40 * 86400, now_ - 33 * 86400));
  // Simulate a store written before the index: drop its entries, then reopen.
  store_.reset();
  {
    kv::EnvOptions o;
    o.location = dir_.string();
    auto env = kv::Env::Open(o);
    ASSERT_TRUE(env);
    auto dbi = env->OpenTable("order_expiry", false);
    ASSERT_TRUE(dbi);
    auto txn = kv::Txn::BeginWrite(*env);
    ASSERT_TRUE(txn);
    std::vector<std::string> keys;
    ASSERT_TRUE(txn->ForEach(*dbi, "", [&](std::string_view k, std::string_view) {
      keys.emplace_back(k);
      return true;
    }));
    ASSERT_FALSE(keys.empty());
    for (const std::string& k : keys) ASSERT_TRUE(*txn->Delete(*dbi, k));
    ASSERT_TRUE(txn->Commit());
  }
  auto reopened = AcmeStore::Open(dir_.string());
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  store_.emplace(std::move(*reopened));
  StorePruner pruner(*store_, RetentionOptions{}, [&] { return now_; });
  EXPECT_EQ(pruner.RunOnce()->orders, 1u);
}

}  // namespace
}  // namespace ca::gateway
