#include "engine/lease_keeper.h"

#include <gtest/gtest.h>

#include "engine/testing/fake_lease_table.h"

namespace ca::engine {
namespace {

using std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

using testing::FakeLeaseTable;

class LeaseKeeperTest : public ::testing::Test {
 protected:
  std::unique_ptr<LeaseKeeper> Keeper(const std::string& node,
                                      milliseconds ttl = milliseconds(10000)) {
    return std::make_unique<LeaseKeeper>(LeaseKeeperOptions{"engine-production", node, ttl},
                                         table_.Ops(), [this] { return table_.now; });
  }
  FakeLeaseTable table_;
};

TEST(LeaseNamesTest, LeaseIsNamedAfterTheEnvironmentAndTheNodeAfterTheHost) {
  EXPECT_EQ(EngineLeaseName("production"), "engine-production");
  EXPECT_EQ(EngineLeaseName("staging"), "engine-staging");
  EXPECT_FALSE(DefaultNodeName().empty());
}

TEST_F(LeaseKeeperTest, FirstNodeTakesTheLeaseAndFencesItsWritesWithTheEpoch) {
  auto a = Keeper("node-a");
  EXPECT_FALSE(a->Active());
  EXPECT_EQ(a->epoch(), 0u);
  a->RenewOnce();
  EXPECT_TRUE(a->Active());
  EXPECT_EQ(a->epoch(), 1u);
  EXPECT_EQ(a->fence()->epoch.load(), 1u);
  EXPECT_EQ(a->fence()->lease, "engine-production");
  EXPECT_EQ(a->fence()->holder, "node-a");
  EXPECT_EQ(a->holder(), "node-a");
  EXPECT_EQ(a->activations(), 1u);
  EXPECT_EQ(a->renew_period(), milliseconds(2000));
  // Renewals keep the epoch and do not count as a new activation.
  for (int i = 0; i < 10; ++i) {
    table_.now += a->renew_period();
    a->RenewOnce();
    EXPECT_TRUE(a->Active());
  }
  EXPECT_EQ(a->epoch(), 1u);
  EXPECT_EQ(a->activations(), 1u);
}

TEST_F(LeaseKeeperTest, SecondNodeStaysStandbyNamingTheHolder) {
  auto a = Keeper("node-a");
  auto b = Keeper("node-b");
  a->RenewOnce();
  b->RenewOnce();
  EXPECT_TRUE(a->Active());
  EXPECT_FALSE(b->Active());
  EXPECT_EQ(b->epoch(), 0u);
  EXPECT_EQ(b->fence()->epoch.load(), 0u);
  EXPECT_EQ(b->holder(), "node-a");
  EXPECT_EQ(b->activations(), 0u);
  EXPECT_EQ(b->StandbyDetail(), "engine standby: node-a holds the lease engine-production");
}

// The deadline (start of the renewal + ttl - ttl/5) falls before the server's expiry, which
// counts from after the request's trip: at no simulated instant are both nodes active.
TEST_F(LeaseKeeperTest, HolderThatStopsRenewingGoesStandbyBeforeTheOtherTakesOver) {
  table_.latency = milliseconds(300);
  auto a = Keeper("node-a");
  auto b = Keeper("node-b");
  a->RenewOnce();
  const TimePoint a_stops = table_.now + std::chrono::seconds(5);
  std::optional<TimePoint> a_inactive, b_active;
  const milliseconds step(100);
  TimePoint next_a = table_.now, next_b = table_.now;
  for (int i = 0; i < 400; ++i) {
    table_.now += step;
    if (table_.now >= next_a && table_.now < a_stops) {
      a->RenewOnce();  // then crashes (stops renewing) at a_stops
      next_a = table_.now + a->renew_period();
    }
    if (table_.now >= next_b) {
      b->RenewOnce();
      next_b = table_.now + b->renew_period();
    }
    ASSERT_FALSE(a->Active() && b->Active()) << "both active at step " << i;
    if (!a->Active() && !a_inactive) a_inactive = table_.now;
    if (b->Active() && !b_active) b_active = table_.now;
  }
  ASSERT_TRUE(a_inactive && b_active);
  EXPECT_LT(*a_inactive, *b_active);
  // At least the margin between the old holder's last possible signature and the takeover.
  EXPECT_GE(*b_active - *a_inactive, b->margin());
  EXPECT_EQ(b->epoch(), 2u);
  EXPECT_EQ(b->activations(), 1u);
  EXPECT_EQ(table_.row("engine-production").holder, "node-b");
}

TEST_F(LeaseKeeperTest, CutOffFromTheDatabaseTheHolderLapsesAtItsDeadlineAndTheOtherTakesOver) {
  auto a = Keeper("node-a");
  auto b = Keeper("node-b");
  a->RenewOnce();
  const TimePoint renewed = table_.now;
  table_.cut_off["node-a"] = true;
  table_.now += a->renew_period();
  a->RenewOnce();
  EXPECT_EQ(a->renew_failures(), 1u);
  EXPECT_TRUE(a->Active());  // until its deadline
  table_.now = renewed + milliseconds(8000) - milliseconds(1);
  EXPECT_TRUE(a->Active());
  table_.now = renewed + milliseconds(8000);
  EXPECT_FALSE(a->Active());  // ttl - margin after the last renewal's start
  b->RenewOnce();
  EXPECT_FALSE(b->Active());  // the server's lease runs until ttl
  table_.now = renewed + milliseconds(10000);
  b->RenewOnce();
  EXPECT_TRUE(b->Active());
  EXPECT_EQ(b->epoch(), 2u);
  // Back online, the old holder learns it lost the lease: fence 0, standby.
  table_.cut_off["node-a"] = false;
  a->RenewOnce();
  EXPECT_FALSE(a->Active());
  EXPECT_EQ(a->epoch(), 0u);
  EXPECT_EQ(a->losses(), 1u);
  EXPECT_EQ(a->StandbyDetail(), "engine standby: node-b holds the lease engine-production");
}

TEST_F(LeaseKeeperTest, RenewalAfterALapseOfItsOwnLeaseIsANewActivation) {
  auto a = Keeper("node-a");
  a->RenewOnce();
  table_.now += std::chrono::seconds(9);  // past the local deadline, before the server's expiry
  EXPECT_FALSE(a->Active());
  a->RenewOnce();
  EXPECT_TRUE(a->Active());
  EXPECT_EQ(a->epoch(), 1u);
  // Reservations refused meanwhile are reconciled: the engine sees a new activation.
  EXPECT_EQ(a->activations(), 2u);
}

TEST_F(LeaseKeeperTest, StopReleasesTheLeaseSoTheStandbyTakesOverAtOnce) {
  auto a = Keeper("node-a");
  auto b = Keeper("node-b");
  a->RenewOnce();
  b->RenewOnce();
  EXPECT_FALSE(b->Active());
  a->Stop();
  EXPECT_FALSE(a->Active());
  EXPECT_EQ(a->epoch(), 0u);
  b->RenewOnce();
  EXPECT_TRUE(b->Active());
  EXPECT_EQ(b->epoch(), 2u);
}

TEST_F(LeaseKeeperTest, ServerRemainingShorterThanTtlShortensTheDeadline) {
  auto ops = table_.Ops();
  LeaseOps short_ops{
      [&](std::string_view l, std::string_view h, milliseconds ttl) -> Result<kv::LeaseState> {
        auto s = ops.acquire(l, h, ttl);
        if (s) s->remaining = milliseconds(3000);
        return s;
      },
      ops.release};
  LeaseKeeper k({"engine-staging", "node-a", milliseconds(10000)}, short_ops,
                [this] { return table_.now; });
  const TimePoint start = table_.now;
  k.RenewOnce();
  table_.now = start + milliseconds(1000 - 1);
  EXPECT_TRUE(k.Active());
  table_.now = start + milliseconds(1000);  // 3000 - margin 2000
  EXPECT_FALSE(k.Active());
}

TEST(LeaseKeeperThreadTest, ThreadRenewsOnTheRealClockAndStopReleases) {
  FakeLeaseTable table;
  table.clock = [] { return std::chrono::steady_clock::now(); };
  LeaseKeeper a({"engine-production", "node-a", milliseconds(500)}, table.Ops());
  a.Start();
  EXPECT_TRUE(a.Active());
  for (int i = 0; i < 15; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_TRUE(a.Active()) << "after " << (i + 1) * 100 << " ms";  // renewed every 100 ms
  }
  a.Stop();  // joins the thread: the table is the test's alone again
  EXPECT_FALSE(a.Active());
  EXPECT_LE(table.row("engine-production").expires, std::chrono::steady_clock::now());  // released
}

}  // namespace
}  // namespace ca::engine
