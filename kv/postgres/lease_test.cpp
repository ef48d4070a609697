// Leases by the server's clock and fenced write transactions (kv::Env::AcquireLease, SetFence).
#include <gtest/gtest.h>

#include <thread>

#include "kv/kv.h"
#include "kv/postgres/testing/pg_fixture.h"

namespace ca::kv::postgres {
namespace {

using namespace std::chrono_literals;

class LeaseTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) return;
    // Two processes' Envs on one store (two pools, two sets of connections).
    node_a_.emplace(PG_ASSERT_OK(Env::Open({.location = Location(), .create = true})));
    node_b_.emplace(PG_ASSERT_OK(Env::Open({.location = Location(), .create = true})));
    table_a_ = PG_ASSERT_OK(node_a_->OpenTable("records", true));
    table_b_ = PG_ASSERT_OK(node_b_->OpenTable("records", true));
  }
  static std::shared_ptr<Fence> MakeFence(const std::string& lease, const std::string& holder,
                                          uint64_t epoch) {
    auto fence = std::make_shared<Fence>();
    fence->lease = lease;
    fence->holder = holder;
    fence->epoch = epoch;
    return fence;
  }

  std::optional<Env> node_a_, node_b_;
  Table table_a_ = 0, table_b_ = 0;
};

TEST_F(LeaseTest, OneHolderTakeoverOnlyAfterExpiryEpochBumps) {
  auto a = PG_ASSERT_OK(node_a_->AcquireLease("engine-prod", "node-a", 3000ms));
  EXPECT_TRUE(a.held);
  EXPECT_EQ(a.holder, "node-a");
  EXPECT_EQ(a.epoch, 1u);
  EXPECT_GT(a.remaining, 2000ms);
  EXPECT_LE(a.remaining, 3000ms);

  auto b = PG_ASSERT_OK(node_b_->AcquireLease("engine-prod", "node-b", 3000ms));
  EXPECT_FALSE(b.held);
  EXPECT_EQ(b.holder, "node-a");
  EXPECT_EQ(b.epoch, 1u);
  EXPECT_GT(b.remaining, 0ms);

  auto renewed = PG_ASSERT_OK(node_a_->AcquireLease("engine-prod", "node-a", 3000ms));
  EXPECT_TRUE(renewed.held);
  EXPECT_EQ(renewed.epoch, 1u);  // a renewal keeps the epoch

  std::this_thread::sleep_for(3100ms);
  auto read = PG_ASSERT_OK(node_b_->ReadLease("engine-prod"));
  EXPECT_FALSE(read.held);
  EXPECT_EQ(read.holder, "node-a");
  EXPECT_EQ(read.remaining, 0ms);
  auto taken = PG_ASSERT_OK(node_b_->AcquireLease("engine-prod", "node-b", 5000ms));
  EXPECT_TRUE(taken.held);
  EXPECT_EQ(taken.holder, "node-b");
  EXPECT_EQ(taken.epoch, 2u);
  auto late = PG_ASSERT_OK(node_a_->AcquireLease("engine-prod", "node-a", 5000ms));
  EXPECT_FALSE(late.held);
  EXPECT_EQ(late.holder, "node-b");
  EXPECT_EQ(late.epoch, 2u);
}

TEST_F(LeaseTest, ReleaseLetsTheOtherHolderTakeOverAtOnce) {
  EXPECT_EQ(PG_ASSERT_OK(node_a_->ReadLease("l")).holder, "");
  EXPECT_EQ(PG_ASSERT_OK(node_a_->ReadLease("l")).epoch, 0u);
  PG_ASSERT_OK(node_a_->AcquireLease("l", "node-a", 60s));
  PG_ASSERT_OK(node_b_->ReleaseLease("l", "node-b"));  // not the holder: changes nothing
  EXPECT_FALSE(PG_ASSERT_OK(node_b_->AcquireLease("l", "node-b", 60s)).held);
  PG_ASSERT_OK(node_a_->ReleaseLease("l", "node-a"));
  auto taken = PG_ASSERT_OK(node_b_->AcquireLease("l", "node-b", 60s));
  EXPECT_TRUE(taken.held);
  EXPECT_EQ(taken.epoch, 2u);
}

TEST_F(LeaseTest, FencedWriterAfterTakeoverIsRefusedAndWritesNothing) {
  auto a = PG_ASSERT_OK(node_a_->AcquireLease("engine-prod", "node-a", 3000ms));
  auto fence_a = MakeFence("engine-prod", "node-a", a.epoch);
  PG_ASSERT_OK(node_a_->SetFence(fence_a));
  {
    auto txn = PG_ASSERT_OK(Txn::BeginWrite(*node_a_));
    PG_ASSERT_OK(txn.Put(table_a_, "serial-1", "by a"));
    PG_ASSERT_OK(txn.Commit());
  }
  // A write transaction that started while a held the lease keeps a takeover waiting until it ends.
  auto inflight = PG_ASSERT_OK(Txn::BeginWrite(*node_a_));
  PG_ASSERT_OK(inflight.Put(table_a_, "serial-2", "by a, in flight"));
  std::this_thread::sleep_for(3100ms);  // the lease has expired by the server's clock
  std::atomic<bool> taken_over{false};
  std::thread takeover([&] {
    auto b = node_b_->AcquireLease("engine-prod", "node-b", 60s);
    EXPECT_TRUE(b.has_value() && b->held && b->epoch == 2u);
    taken_over = true;
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(taken_over.load());  // blocked behind the in-flight transaction's FOR SHARE lock
  PG_ASSERT_OK(inflight.Commit());
  takeover.join();
  EXPECT_TRUE(taken_over.load());

  // From now on a's writes are refused and write nothing; reads still work.
  auto refused = Txn::BeginWrite(*node_a_);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(
      refused.error().message,
      "lease lost: lease engine-prod is no longer held by node-a at epoch 1 (expired or taken "
      "over); this write was refused");
  fence_a->epoch = 0;
  auto unheld = Txn::BeginWrite(*node_a_);
  ASSERT_FALSE(unheld.has_value());
  EXPECT_TRUE(unheld.error().message.starts_with("lease lost: ")) << unheld.error().message;

  PG_ASSERT_OK(node_b_->SetFence(MakeFence("engine-prod", "node-b", 2)));
  auto txn_b = PG_ASSERT_OK(Txn::BeginWrite(*node_b_));
  PG_ASSERT_OK(txn_b.Put(table_b_, "serial-3", "by b"));
  PG_ASSERT_OK(txn_b.Commit());

  auto read = PG_ASSERT_OK(Txn::BeginRead(*node_a_));
  std::vector<std::string> seen;
  PG_ASSERT_OK(read.ForEach(table_a_, "", [&](std::string_view k, std::string_view v) {
    seen.push_back(std::string(k) + "=" + std::string(v));
    return true;
  }));
  EXPECT_EQ(seen, (std::vector<std::string>{"serial-1=by a", "serial-2=by a, in flight",
                                            "serial-3=by b"}));
}

TEST_F(LeaseTest, AFenceCheckedBeforeATakeoverCommittedConflictsOrRefuses) {
  auto a = PG_ASSERT_OK(node_a_->AcquireLease("l", "node-a", 500ms));
  PG_ASSERT_OK(node_a_->SetFence(MakeFence("l", "node-a", a.epoch)));
  std::this_thread::sleep_for(600ms);
  PG_ASSERT_OK(node_b_->AcquireLease("l", "node-b", 60s));
  auto refused = Txn::BeginWrite(*node_a_);
  ASSERT_FALSE(refused.has_value());
  EXPECT_TRUE(refused.error().message.starts_with("lease lost: ") || IsConflict(refused.error()))
      << refused.error().message;
}

TEST_F(LeaseTest, BadArgumentsAreRefused) {
  auto empty = node_a_->AcquireLease("", "node-a", 1s);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  auto ttl = node_a_->AcquireLease("l", "node-a", 0ms);
  ASSERT_FALSE(ttl.has_value());
  EXPECT_EQ(ttl.error().code, ErrorCode::kInvalidArgument);
}

// A server without standbys: no synchronous commit, none listed (the pair's gauges then say the
// pair runs on one copy; tests/ha/failover_e2e.sh checks a real pair's).
TEST_F(LeaseTest, ReplicationStateOfALoneServer) {
  auto state = PG_ASSERT_OK(node_a_->GetReplication());
  EXPECT_FALSE(state.sync_commit);
  EXPECT_TRUE(state.standbys.empty());
  EXPECT_EQ(state.SyncStandbys(), 0u);
  ReplicationState pair{true,
                        {{"ca-2", "streaming", "sync", 0.01}, {"ca-3", "catchup", "sync", 9}}};
  EXPECT_EQ(pair.SyncStandbys(), 1u);  // catching up: its commits are not waited for yet
}

}  // namespace
}  // namespace ca::kv::postgres
