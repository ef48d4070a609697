// Challenge validation off the HTTP threads: a challenge POST schedules the challenge here; a
// worker of the gateway's WorkQueue runs the validator (and CAA), records the outcome, moves the
// authorization and order on, and reschedules after challenge_retry_seconds while the validator
// reports the target unavailable (up to max_challenge_attempts).
// The same workers resume what a crash interrupted (ResumeInterrupted, at start): validation of
// every challenge left `processing` (the queue is in memory only), and every order left
// `processing` (finalize.h: the engine is asked again for the order's certificate, retried with
// backoff while it is unavailable).
#pragma once

#include <mutex>
#include <set>
#include <string>

#include "gateway/handler_context.h"
#include "gateway/work_queue.h"

namespace ca::gateway {

class ChallengeValidations {
 public:
  // `s` must outlive this object; its `validations` member is this object.
  ChallengeValidations(HandlerContext& s, size_t workers) : s_(s), queue_(workers) {}

  void Schedule(const std::string& challenge_id) { Submit(challenge_id, 0); }
  // In the background: schedules every processing challenge and resumes every processing order.
  void ResumeInterrupted();
  // Resumes one processing order after `delay_seconds` (once: an order already waiting is not
  // queued twice), retrying with backoff until it is valid or invalid.
  void ResumeOrder(const std::string& order_id, int64_t delay_seconds);
  void WaitIdle() { queue_.WaitIdle(); }  // tests
  void Stop() { queue_.Stop(); }

 private:
  void Submit(const std::string& challenge_id, int64_t delay_seconds);
  void Run(const std::string& challenge_id);
  void RunResume(const std::string& order_id, int64_t delay_seconds);
  HandlerContext& s_;
  std::mutex resume_mu_;
  std::set<std::string> resuming_;  // orders with a resume job queued
  WorkQueue queue_;                 // last: its workers stop before the rest goes
};

}  // namespace ca::gateway
