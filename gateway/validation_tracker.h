// What the gateway knows about the validations in flight, so that it can say when an answer is
// likely ready instead of a constant:
//  - each challenge whose next attempt is queued (due when) or running (since when);
//  - how long recent attempts took (the median of the last 64, validator, CAA and the durable
//    write of the outcome).
// From these, RetryAfterSeconds: the whole seconds a client should wait before asking again about
// a processing challenge (RFC 8555 §8.2: "a time after the server's next validation query"); and
// AwaitFirstAttempt: the bounded wait of a challenge POST for the outcome of the attempt it started
// (authorizations.cpp), cancelled at shutdown. Thread-safe; time is passed in, so that the
// estimate is tested without clocks (validation_tracker_test.cpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace ca::gateway {

// Whole seconds for a Retry-After header: rounded up, at least 1 (RFC 9110 §10.2.3 counts in whole
// seconds; 0 would invite polling at once).
int64_t RetryAfterFromDuration(std::chrono::steady_clock::duration d);

class ValidationTracker {
 public:
  using Clock = std::chrono::steady_clock;
  // Assumed duration of an attempt before any was measured.
  static constexpr Clock::duration kUnmeasuredAttempt = std::chrono::seconds(1);
  static constexpr size_t kWindow = 64;  // attempts whose durations make the median

  explicit ValidationTracker(size_t workers) : workers_(workers == 0 ? 1 : workers) {}

  // The next attempt of `id` is queued, due at `due`. `retry`: after an attempt the validator
  // reported unavailable (the first attempt has ended: a waiter stops waiting).
  void Queued(const std::string& id, Clock::time_point due, bool retry);
  void Started(const std::string& id, Clock::time_point now);
  // The attempt's job ended. `took`: how long it ran, when it validated and recorded (not when it
  // found nothing to do). `retry_due`: its next attempt, queued at once (one step: an estimate
  // never sees the challenge between two attempts).
  void Ended(const std::string& id, std::optional<Clock::duration> took,
             std::optional<Clock::time_point> retry_due);

  // Median of the recent attempts; nullopt before the first.
  std::optional<Clock::duration> TypicalAttempt() const;
  // When `id`'s outcome is likely recorded, from `now`: the wait for a worker (its due time, the
  // attempts queued before it and running, `workers` at a time) plus one typical attempt (what is
  // left of it when running). Unknown challenges (not queued here): one typical attempt.
  Clock::duration LikelyReadyIn(const std::string& id, Clock::time_point now) const;
  // ceil(time until the attempt starts) + ceil(what is left of the attempt), at least 1, at most
  // kMaxRetryAfterSeconds: a client asking again then finds the attempt done, never just before.
  int64_t RetryAfterSeconds(const std::string& id, Clock::time_point now) const;
  static constexpr int64_t kMaxRetryAfterSeconds = 600;

  // Waits until the first attempt of `id` has ended (its outcome recorded, or requeued as
  // unavailable), `deadline` passed, or CancelWaits(). True when the attempt ended.
  bool AwaitFirstAttempt(const std::string& id, Clock::time_point deadline);
  // Every wait returns now and none starts again (shutdown).
  void CancelWaits();

 private:
  struct Attempt {
    Clock::time_point due;
    std::optional<Clock::time_point> started;
    bool retry = false;
  };
  struct Estimate {
    Clock::duration until_start{};
    Clock::duration running{};  // what is left of the attempt once started
  };
  Estimate EstimateLocked(const std::string& id, Clock::time_point now) const;
  std::optional<Clock::duration> TypicalLocked() const;

  const size_t workers_;
  mutable std::mutex mu_;
  std::condition_variable ended_cv_;
  std::map<std::string, Attempt> attempts_;  // challenges with an attempt queued or running
  std::deque<Clock::duration> recent_;       // the last kWindow attempt durations
  bool cancelled_ = false;
};

}  // namespace ca::gateway
