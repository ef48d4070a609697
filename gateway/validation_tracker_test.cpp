// The estimate behind Retry-After on processing challenges, with explicit time points (no clock),
// and the bounded wait of a challenge POST.
#include "gateway/validation_tracker.h"

#include <gtest/gtest.h>

#include <thread>

namespace ca::gateway {
namespace {

using namespace std::chrono_literals;
using Clock = ValidationTracker::Clock;

// Records one finished attempt of `took`.
void Measure(ValidationTracker& t, Clock::time_point at, Clock::duration took) {
  t.Queued("m", at, false);
  t.Started("m", at);
  t.Ended("m", took, std::nullopt);
}

TEST(RetryAfterFromDuration, RoundsUpToWholeSecondsAtLeastOne) {
  EXPECT_EQ(RetryAfterFromDuration(Clock::duration::zero()), 1);
  EXPECT_EQ(RetryAfterFromDuration(-5s), 1);
  EXPECT_EQ(RetryAfterFromDuration(10ms), 1);
  EXPECT_EQ(RetryAfterFromDuration(1200ms), 2);
  EXPECT_EQ(RetryAfterFromDuration(3s), 3);
  EXPECT_EQ(RetryAfterFromDuration(24h), ValidationTracker::kMaxRetryAfterSeconds);
}

TEST(ValidationTracker, BeforeAnyMeasureOneSecond) {
  ValidationTracker t(4);
  const auto now = Clock::now();
  EXPECT_FALSE(t.TypicalAttempt());
  EXPECT_EQ(t.RetryAfterSeconds("unknown", now), 1);
  t.Queued("c", now, false);
  EXPECT_EQ(t.LikelyReadyIn("c", now), ValidationTracker::kUnmeasuredAttempt);
  EXPECT_EQ(t.RetryAfterSeconds("c", now), 1);
}

TEST(ValidationTracker, TypicalAttemptIsTheMedianOfTheLastWindow) {
  ValidationTracker t(4);
  const auto now = Clock::now();
  Measure(t, now, 10ms);
  Measure(t, now, 4200ms);
  Measure(t, now, 4300ms);
  EXPECT_EQ(*t.TypicalAttempt(), 4200ms);
  // Only the last kWindow attempts count: 64 fast ones push the slow ones out.
  for (size_t i = 0; i < ValidationTracker::kWindow; ++i) Measure(t, now, 15ms);
  EXPECT_EQ(*t.TypicalAttempt(), 15ms);
  // An attempt that found nothing to do (no duration) is not a measure.
  t.Started("x", now);
  t.Ended("x", std::nullopt, std::nullopt);
  EXPECT_EQ(*t.TypicalAttempt(), 15ms);
}

TEST(ValidationTracker, RunningAttemptAnswersWhatIsLeftOfIt) {
  ValidationTracker t(4);
  const auto now = Clock::now();
  Measure(t, now, 4200ms);
  t.Queued("c", now - 1s, false);
  t.Started("c", now - 1s);
  EXPECT_EQ(t.LikelyReadyIn("c", now), 3200ms);
  EXPECT_EQ(t.RetryAfterSeconds("c", now), 4);
  // Past its typical duration: ask again in a second.
  EXPECT_EQ(t.RetryAfterSeconds("c", now + 10s), 1);
}

TEST(ValidationTracker, FastValidationsAnswerOneSecond) {
  ValidationTracker t(4);
  const auto now = Clock::now();
  for (int i = 0; i < 10; ++i) Measure(t, now, 12ms);
  t.Queued("c", now, false);
  EXPECT_EQ(t.LikelyReadyIn("c", now), 12ms);
  EXPECT_EQ(t.RetryAfterSeconds("c", now), 1);  // was a constant 2
}

TEST(ValidationTracker, RetryOfAnUnavailableTargetAnswersAfterTheNextAttempt) {
  ValidationTracker t(4);
  const auto now = Clock::now();
  Measure(t, now, 200ms);
  t.Queued("c", now, false);
  t.Started("c", now);
  t.Ended("c", 200ms, now + 30s);  // unavailable: the next attempt in 30 s
  // RFC 8555 §8.2: a time after the server's next validation query.
  EXPECT_EQ(t.LikelyReadyIn("c", now), 30200ms);
  EXPECT_EQ(t.RetryAfterSeconds("c", now), 31);
  EXPECT_EQ(t.RetryAfterSeconds("c", now + 29500ms), 2);
}

TEST(ValidationTracker, QueueAheadDelaysTheStartByWholeWavesOfWorkers) {
  ValidationTracker t(2);
  const auto now = Clock::now();
  Measure(t, now, 2500ms);
  t.Queued("r1", now - 1s, false);
  t.Started("r1", now - 1s);  // running until about now + 1.5 s
  t.Queued("q1", now, false);
  t.Queued("q2", now, false);
  t.Queued("later", now + 60s, false);  // due after ours: not ahead
  t.Queued("c", now + 1ms, false);
  // Ahead: r1 (still running at c's start), q1, q2 = 3 attempts on 2 workers = one wave.
  EXPECT_EQ(t.LikelyReadyIn("c", now), 1ms + 2500ms + 2500ms);
  EXPECT_EQ(t.RetryAfterSeconds("c", now), 3 + 3);
  // A retry due far ahead does not wait for what runs or is queued now: done by then.
  t.Queued("retry", now + 30s, true);
  EXPECT_EQ(t.LikelyReadyIn("retry", now), 30s + 2500ms);
}

TEST(ValidationTracker, AwaitEndsWithTheFirstAttemptOrItsDeadline) {
  ValidationTracker t(2);
  const auto now = Clock::now();
  t.Queued("c", now, false);
  EXPECT_FALSE(t.AwaitFirstAttempt("c", now - 1s));  // deadline passed: the attempt is not done
  std::thread worker([&] {
    t.Started("c", Clock::now());
    t.Ended("c", 5ms, std::nullopt);
  });
  EXPECT_TRUE(t.AwaitFirstAttempt("c", Clock::time_point::max()));
  worker.join();
  // Requeued as unavailable: the first attempt has ended, the answer is processing.
  t.Queued("d", now, false);
  std::thread retry([&] {
    t.Started("d", Clock::now());
    t.Ended("d", 5ms, Clock::now() + 3s);
  });
  EXPECT_TRUE(t.AwaitFirstAttempt("d", Clock::time_point::max()));
  retry.join();
  EXPECT_TRUE(t.AwaitFirstAttempt("d", Clock::time_point::max()));  // its retry is not awaited
}

TEST(ValidationTracker, CancelledWaitsReturnAtOnce) {
  ValidationTracker t(2);
  t.Queued("c", Clock::now(), false);
  bool ended = true;
  std::thread waiter([&] { ended = t.AwaitFirstAttempt("c", Clock::time_point::max()); });
  t.CancelWaits();
  waiter.join();  // without the cancel this never returns
  EXPECT_FALSE(ended);
  EXPECT_FALSE(t.AwaitFirstAttempt("c", Clock::time_point::max()));  // and none waits again
}

}  // namespace
}  // namespace ca::gateway
