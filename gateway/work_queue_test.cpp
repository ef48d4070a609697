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

}  // namespace
}  // namespace ca::gateway
