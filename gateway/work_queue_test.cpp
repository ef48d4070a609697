#include "gateway/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace ca::gateway {
namespace {

TEST(WorkQueue, RunsEveryJobAndStopDrainsWhatIsQueued) {
  std::atomic<int> ran{0};
  WorkQueue queue(2);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(queue.Submit([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      ++ran;
    }));
  }
  queue.Stop();  // the queued jobs still run: their connections are waiting to be resumed
  EXPECT_EQ(ran, 50);
  EXPECT_FALSE(queue.Submit([&] { ++ran; }));
  EXPECT_EQ(ran, 50);
  queue.Stop();  // idempotent
}

TEST(WorkQueue, AThrowingJobDoesNotStopTheWorkers) {
  std::atomic<int> ran{0};
  WorkQueue queue(1);
  ASSERT_TRUE(queue.Submit([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(queue.Submit([&] { ++ran; }));
  queue.Stop();
  EXPECT_EQ(ran, 1);
}

TEST(WorkQueue, DelayedJobsRunAfterTheirDelayAndStopDropsThoseNotDue) {
  std::atomic<int> ran{0};
  WorkQueue queue(2);
  const auto start = WorkQueue::Clock::now();
  WorkQueue::Clock::time_point delayed_ran_at;
  ASSERT_TRUE(queue.SubmitAfter(std::chrono::milliseconds(50), [&] {
    delayed_ran_at = WorkQueue::Clock::now();
    ++ran;
  }));
  ASSERT_TRUE(queue.Submit([&] { ++ran; }));
  queue.WaitIdle();  // waits for the delayed job too
  EXPECT_EQ(ran, 2);
  EXPECT_GE(delayed_ran_at - start, std::chrono::milliseconds(50));
  ASSERT_TRUE(queue.SubmitAfter(std::chrono::hours(1), [&] { ++ran; }));
  queue.Stop();  // returns at once: the job is not due
  EXPECT_EQ(ran, 2);
}

}  // namespace
}  // namespace ca::gateway
