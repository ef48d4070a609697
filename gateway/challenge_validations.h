// Challenge validation off the HTTP threads: a challenge POST schedules the challenge here; a
// worker of the gateway's WorkQueue runs the validator (and CAA), records the outcome, moves the
// authorization and order on, and reschedules after challenge_retry_seconds while the validator
// reports the target unavailable (up to max_challenge_attempts).
#pragma once

#include <string>

#include "gateway/handler_context.h"
#include "gateway/work_queue.h"

namespace ca::gateway {

class ChallengeValidations {
 public:
  // `s` must outlive this object; its `validations` member is this object.
  ChallengeValidations(HandlerContext& s, size_t workers) : s_(s), queue_(workers) {}

  void Schedule(const std::string& challenge_id) { Submit(challenge_id, 0); }
  void WaitIdle() { queue_.WaitIdle(); }  // tests
  void Stop() { queue_.Stop(); }

 private:
  void Submit(const std::string& challenge_id, int64_t delay_seconds);
  void Run(const std::string& challenge_id);
  HandlerContext& s_;
  WorkQueue queue_;
};

}  // namespace ca::gateway
