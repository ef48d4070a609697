// A bounded worker pool that runs validations off the HTTP threads: N threads, a bounded queue,
// and a per-validation deadline (every network step of a validation honours it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/validation/validator.h"

namespace ca::validation {

class ValidationPool {
 public:
  // Called exactly once per accepted job, on a pool thread (or, at shutdown, on the destroying
  // thread with an kUnavailable outcome for jobs that never started). Exceptions it throws are
  // caught and logged: they never reach the pool.
  using Callback = std::function<void(const Outcome&)>;

  static Result<std::unique_ptr<ValidationPool>> Create(
      std::shared_ptr<const Validator> validator, size_t threads, size_t queue_capacity,
      std::chrono::milliseconds per_validation_timeout);
  ~ValidationPool();  // stops accepting, finishes running jobs, reports queued ones as kUnavailable
  ValidationPool(const ValidationPool&) = delete;
  ValidationPool& operator=(const ValidationPool&) = delete;

  // kInvalidArgument for a bad request (Validator::CheckRequest), kResourceExhausted when the queue
  // is full, kFailedPrecondition when shutting down. Nothing is queued on error.
  Status SubmitChallenge(ChallengeRequest request, Callback done);
  Status SubmitCaa(std::string identifier, CaaRequest request, Callback done);

  size_t queued() const;

 private:
  struct Job {
    std::function<Result<Outcome>(Clock::time_point deadline)> work;
    Callback done;
  };
  ValidationPool() = default;
  Status Enqueue(Job job);
  void WorkerLoop();
  static void Deliver(const Callback& done, const Outcome& outcome);

  std::shared_ptr<const Validator> validator_;
  size_t capacity_ = 0;
  std::chrono::milliseconds timeout_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace ca::validation
