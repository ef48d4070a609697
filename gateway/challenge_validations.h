// Challenge validation off the HTTP threads: a challenge POST schedules the challenge here; a
// worker of the gateway's WorkQueue runs the validator (and CAA), records the outcome, moves the
// authorization and order on, and reschedules after challenge_retry_seconds while the validator
// reports the target unavailable (up to max_challenge_attempts).
// The POST that started a validation may wait a bounded time for its first attempt
// (ScheduleAndAwait: validation_answer_wait_ms), so that a validation that takes milliseconds is
// answered valid or invalid at once; what is still processing is answered with a Retry-After from
// what the gateway knows (validation_tracker.h), not a constant.
// The same workers resume what a crash interrupted (ResumeInterrupted, at start): validation of
// every challenge left `processing` (the queue is in memory only), and every order left
// `processing` (finalize.h: the engine is asked again for the order's certificate, retried with
// backoff while it is unavailable).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "common/audit_log.h"
#include "gateway/handler_context.h"
#include "gateway/validation_tracker.h"
#include "gateway/work_queue.h"

namespace ca::gateway {

class ChallengeValidations {
 public:
  // `s` must outlive this object; its `validations` member is this object.
  ChallengeValidations(HandlerContext& s, size_t workers)
      : s_(s), tracker_(workers), queue_(workers) {}

  void Schedule(const std::string& challenge_id) { Submit(challenge_id, 0); }
  // Schedules a challenge its caller has just set processing (durably), then waits at most `wait`
  // for its first attempt to end, the outcome durably recorded (or the attempt requeued as
  // unavailable): true when it did. Waits only when the attempt is likely to end within `wait`
  // (recent attempts, the queue ahead of it), never after CancelWaits(). Runs on a request worker
  // (http_server.cpp), never on libmicrohttpd's threads (config.cpp sets no wait without workers).
  bool ScheduleAndAwait(const std::string& challenge_id, std::chrono::milliseconds wait);
  // Retry-After (whole seconds, >= 1) for a processing challenge, and its authorization: after
  // its attempt (queued, running, or the next one after an unavailable target) likely ends.
  int64_t ChallengeRetryAfter(const std::string& challenge_id) const;
  // Retry-After for a processing order: after its next resume when one is scheduled (backoff while
  // the engine is unavailable), else 1 (a finalize in flight: the engine answers in milliseconds).
  int64_t OrderRetryAfter(const std::string& order_id) const;
  // Every ScheduleAndAwait returns now, and none waits again (shutdown).
  void CancelWaits() { tracker_.CancelWaits(); }
  // In the background: schedules every processing challenge and resumes every processing order.
  void ResumeInterrupted();
  // Resumes one processing order after `delay_seconds` (once: an order already waiting is not
  // queued twice), retrying with backoff until it is valid or invalid.
  void ResumeOrder(const std::string& order_id, int64_t delay_seconds);
  void WaitIdle() { queue_.WaitIdle(); }  // tests
  // Each challenge that ends invalid is appended to `audit` as a "validation_failed" entry
  // (external_account, account, name, challenge, result_code, problem, detail). Not owned.
  void SetAudit(audit::AuditLog* audit) { audit_.store(audit); }
  void Stop() {
    tracker_.CancelWaits();
    queue_.Stop();
  }

 private:
  // What one attempt did: `recorded` its outcome (valid, invalid, or unavailable and `requeue`).
  struct AttemptResult {
    bool recorded = false;
    bool requeue = false;
  };
  void Submit(const std::string& challenge_id, int64_t delay_seconds);
  void Run(const std::string& challenge_id);
  AttemptResult Attempt(const std::string& challenge_id);
  void RunResume(const std::string& order_id, int64_t delay_seconds);
  void AuditFailure(const ChallengeRecord& chall, const AuthzRecord& authz,
                    const std::string& external_account_kid, const Problem& problem);
  // R28: what every perspective (remote agent) answered, and the decision, for every attempt.
  void AuditPerspectives(const ChallengeRecord& chall, const AuthzRecord& authz,
                         const std::string& external_account_kid, const ValidationResult& result,
                         const std::optional<Problem>& failed);
  void AppendAudit(std::string_view event, const nlohmann::json& fields);
  HandlerContext& s_;
  std::atomic<audit::AuditLog*> audit_{nullptr};
  ValidationTracker tracker_;
  mutable std::mutex resume_mu_;
  // Orders with a resume job queued, and when it is due.
  std::map<std::string, WorkQueue::Clock::time_point> resuming_;
  WorkQueue queue_;  // last: its workers stop before the rest goes
};

}  // namespace ca::gateway
