#include "engine/replication_watch.h"

#include <gtest/gtest.h>

#include <atomic>

namespace ca::engine {
namespace {

using namespace std::chrono_literals;

// The last answer is kept; a failed probe says the primary is down without inventing standbys,
// and the next answer brings it back.
TEST(ReplicationWatch, KeepsTheLastAnswerAndCountsFailures) {
  bool reachable = true;
  ReplicationWatch watch(
      [&]() -> Result<kv::ReplicationState> {
        if (!reachable) return Fail(ErrorCode::kUnavailable, "no read-write server");
        return kv::ReplicationState{true, {{"ca-2", "streaming", "sync", 0.5}}};
      },
      1h);
  EXPECT_FALSE(watch.Snapshot().probed);
  watch.ProbeOnce();
  ReplicationSnapshot up = watch.Snapshot();
  EXPECT_TRUE(up.probed && up.primary_up);
  EXPECT_EQ(up.state.SyncStandbys(), 1u);
  reachable = false;
  watch.ProbeOnce();
  watch.ProbeOnce();
  ReplicationSnapshot down = watch.Snapshot();
  EXPECT_FALSE(down.primary_up);
  EXPECT_EQ(down.probe_failures, 2u);
  reachable = true;
  watch.ProbeOnce();
  EXPECT_TRUE(watch.Snapshot().primary_up);
  EXPECT_EQ(watch.Snapshot().probe_failures, 2u);
}

// The thread probes at once and then every period, and Stop ends it without waiting a period.
TEST(ReplicationWatch, ThreadProbesAtStartAndStopsPromptly) {
  std::atomic<int> probes{0};
  ReplicationWatch watch(
      [&]() -> Result<kv::ReplicationState> {
        ++probes;
        return kv::ReplicationState{};
      },
      10ms);
  watch.Start();
  for (int i = 0; i < 500 && probes < 3; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(probes.load(), 3);
  auto start = std::chrono::steady_clock::now();
  watch.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(watch.Snapshot().primary_up);
}

}  // namespace
}  // namespace ca::engine
