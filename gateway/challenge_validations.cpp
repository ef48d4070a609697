// Challenge validation jobs (see challenge_validations.h).
#include "gateway/challenge_validations.h"

#include <algorithm>
#include <exception>

#include "common/log.h"

#include "gateway/acme_metrics.h"
#include "gateway/finalize.h"
#include "gateway/order_state.h"

namespace ca::gateway {

using nlohmann::json;

namespace {

// The challenge itself, then CAA for its identifier (a CAA refusal is INVALID_DNSCAA).
ValidationResult CheckChallenge(HandlerContext& s, const ChallengeRecord& chall,
                                const AuthzRecord& authz, const std::string& thumbprint) {
  const std::string account_uri = s.Url("/acme/acct/" + chall.account_id);
  ValidationResult result = s.validator.ValidateChallenge(chall.type, authz.name, chall.token,
                                                          chall.token + "." + thumbprint);
  if (result.status == ValidationResult::Status::kValid) {
    ValidationResult caa =
        s.validator.CheckCaa(authz.name, authz.wildcard, account_uri, chall.type);
    if (caa.status != ValidationResult::Status::kValid) {
      result = caa;
      if (caa.status == ValidationResult::Status::kInvalid) {
        result.problem = ProblemKind::kCaa;
        result.detail = "INVALID_DNSCAA: " + caa.detail;
      }
    }
  }
  return result;
}

// The result code of a failed validation: the one its detail starts with (INVALID_DNSCAA,
// RATE_LIMITED), else the challenge type's (the validators' details carry no code).
std::string ValidationResultCode(const std::string& challenge_type, const Problem& problem) {
  std::string code = ResultCodeOf(problem.detail);
  if (!code.empty()) return code;
  if (challenge_type == "http-01") return "ACME_HTTP_CHALLENGE_FAILED";
  if (challenge_type == "dns-01") return "ACME_DNS_CHALLENGE_FAILED";
  if (challenge_type == "tls-alpn-01") return "ACME_TLS_ALPN_CHALLENGE_FAILED";
  return "ACME_CHALLENGE_FAILED";
}

}  // namespace

void ChallengeValidations::Submit(const std::string& challenge_id, int64_t delay_seconds) {
  const auto delay = std::chrono::seconds(delay_seconds);
  tracker_.Queued(challenge_id, WorkQueue::Clock::now() + delay, false);
  // Refused only while stopping: the challenge stays processing, as after a crash.
  if (!queue_.SubmitAfter(delay, [this, challenge_id] { Run(challenge_id); }))
    tracker_.Ended(challenge_id, std::nullopt, std::nullopt);
}

bool ChallengeValidations::ScheduleAndAwait(const std::string& challenge_id,
                                            std::chrono::milliseconds wait) {
  Schedule(challenge_id);
  if (wait <= std::chrono::milliseconds::zero()) return false;
  // Holding a request worker is worth it only when the answer is likely to come in time: not
  // behind a backlog, nor when attempts take longer than the wait (slow or unreachable targets).
  const auto now = WorkQueue::Clock::now();
  if (tracker_.TypicalAttempt() && tracker_.LikelyReadyIn(challenge_id, now) > wait) return false;
  return tracker_.AwaitFirstAttempt(challenge_id, now + wait);
}

int64_t ChallengeValidations::ChallengeRetryAfter(const std::string& challenge_id) const {
  return tracker_.RetryAfterSeconds(challenge_id, WorkQueue::Clock::now());
}

int64_t ChallengeValidations::OrderRetryAfter(const std::string& order_id) const {
  std::lock_guard lock(resume_mu_);
  auto it = resuming_.find(order_id);
  if (it == resuming_.end()) return 1;
  // After the resume has asked the engine (milliseconds; a second covers it).
  return RetryAfterFromDuration(it->second - WorkQueue::Clock::now() + std::chrono::seconds(1));
}

void ChallengeValidations::Run(const std::string& challenge_id) {
  const auto started = WorkQueue::Clock::now();
  tracker_.Started(challenge_id, started);
  AttemptResult result;
  try {
    result = Attempt(challenge_id);
  } catch (const std::exception& e) {  // the challenge stays processing (resumed at the next start)
    log::Error("validation_failed", {{"challenge", challenge_id}, {"error", e.what()}});
  }
  const auto ended = WorkQueue::Clock::now();
  std::optional<WorkQueue::Clock::duration> took;
  if (result.recorded) took = ended - started;
  if (!result.requeue) {
    tracker_.Ended(challenge_id, took, std::nullopt);
    return;
  }
  const auto delay = std::chrono::seconds(s_.options.challenge_retry_seconds);
  tracker_.Ended(challenge_id, took, ended + delay);
  // Refused only while stopping: the challenge stays processing, resumed at the next start.
  if (!queue_.SubmitAfter(delay, [this, challenge_id] { Run(challenge_id); }))
    tracker_.Ended(challenge_id, std::nullopt, std::nullopt);
}

ChallengeValidations::AttemptResult ChallengeValidations::Attempt(const std::string& challenge_id) {
  HandlerContext& s = s_;
  std::optional<ChallengeRecord> chall;
  std::optional<AuthzRecord> authz;
  std::string thumbprint, external_account_kid;
  {
    auto txn = s.store.Read();
    if (!txn) return {};
    auto c = txn->GetChallenge(challenge_id);
    if (!c || !*c || (*c)->status != ChallengeStatus::kProcessing) return {};
    auto a = txn->GetAuthz((*c)->authz_id);
    auto acct = txn->GetAccount((*c)->account_id);
    if (!a || !*a || !acct || !*acct) return {};
    chall = **c;
    authz = **a;
    thumbprint = (*acct)->jwk_thumbprint;
    external_account_kid = (*acct)->external_account_kid;
  }
  ValidationResult result = CheckChallenge(s, *chall, *authz, thumbprint);
  int64_t now = s.clock();
  s.metrics.CountValidation(chall->type, result.status == ValidationResult::Status::kValid ? "valid"
                                         : result.status == ValidationResult::Status::kInvalid
                                             ? "invalid"
                                             : "unavailable");
  ChallengeRecord cr;
  AuthzRecord ar;
  bool requeue = false, applied = false;
  std::optional<Problem> failed;  // the problem of a challenge this attempt made invalid
  Status written = s.store.Write([&](StoreTxn& txn) -> Status {
    applied = requeue = false;
    failed.reset();
    auto c = CA_TRY(txn.GetChallenge(challenge_id));
    auto a = CA_TRY(txn.GetAuthz(chall->authz_id));
    if (!c || !a || c->status != ChallengeStatus::kProcessing) return {};
    cr = std::move(*c);
    ar = std::move(*a);
    cr.attempts += 1;
    if (result.status == ValidationResult::Status::kValid) {
      cr.status = ChallengeStatus::kValid;
      cr.validated_at = now;
      ar.status = AuthzStatus::kValid;
      ar.validated_at = now;
      ar.caa_checked_at = now;
    } else if (result.status == ValidationResult::Status::kUnavailable &&
               cr.attempts < s.options.max_challenge_attempts) {
      requeue = true;  // transient: try again later, up to the attempt limit
    } else {
      Problem p =
          result.status == ValidationResult::Status::kUnavailable
              ? MakeProblem(ProblemKind::kRateLimited,
                            "RATE_LIMITED: " + authz->name + " could not be validated after " +
                                std::to_string(cr.attempts) + " attempts: " + result.detail)
              : MakeProblem(result.problem, result.detail);
      // The operator's result code leads the detail the requester sees (as RATE_LIMITED above),
      // unless the check already named a more precise one (INVALID_DNSCAA...).
      if (ResultCodeOf(p.detail).empty())
        p.detail = ValidationResultCode(cr.type, p) + ": " + p.detail;
      cr.status = ChallengeStatus::kInvalid;
      cr.error = ProblemToJson(p);
      ar.status = AuthzStatus::kInvalid;
      CA_TRY_STATUS(txn.RecordFailedValidation(cr.account_id, ar.name, now));
      failed = std::move(p);
    }
    CA_TRY_STATUS(txn.PutChallenge(cr));
    CA_TRY_STATUS(txn.PutAuthz(ar));
    auto order = txn.GetOrder(ar.order_id);
    if (order && *order) {
      bool changed = false;
      auto refreshed = RefreshOrder(s, txn, **order, &changed);
      if (refreshed && changed) {
        if (!refreshed->error.is_null() && !cr.error.is_null() &&
            ar.status == AuthzStatus::kInvalid)
          refreshed->error = cr.error;
        CA_TRY_STATUS(txn.PutOrder(*refreshed));
      }
    }
    applied = true;
    return {};
  });
  if (!written) {
    log::Error("validation_not_recorded",
               {{"challenge", challenge_id}, {"error", written.error().ToString()}});
    return {};
  }
  if (!applied) return {};
  log::Info("validation", {{"account", cr.account_id},
                           {"order", ar.order_id},
                           {"challenge", cr.id},
                           {"type", cr.type},
                           {"name", ar.name},
                           {"status", cr.status},
                           {"attempts", cr.attempts},
                           {"detail", result.detail}});
  if (failed) AuditFailure(cr, ar, external_account_kid, *failed);
  if (!result.perspectives.is_null())
    AuditPerspectives(cr, ar, external_account_kid, result, failed);
  return {.recorded = true, .requeue = requeue};
}

void ChallengeValidations::AuditFailure(const ChallengeRecord& chall, const AuthzRecord& authz,
                                        const std::string& external_account_kid,
                                        const Problem& problem) {
  json fields = {{"external_account", external_account_kid},
                 {"account", chall.account_id},
                 {"name", authz.name},
                 {"challenge", chall.type},
                 {"result_code", ValidationResultCode(chall.type, problem)},
                 {"problem", ProblemType(problem.kind)},
                 {"detail", problem.detail}};
  AppendAudit("validation_failed", fields);
}

void ChallengeValidations::AuditPerspectives(const ChallengeRecord& chall, const AuthzRecord& authz,
                                             const std::string& external_account_kid,
                                             const ValidationResult& result,
                                             const std::optional<Problem>& failed) {
  json fields = {
      {"external_account", external_account_kid},
      {"account", chall.account_id},
      {"name", authz.name},
      {"challenge", chall.type},
      {"decision", result.status == ValidationResult::Status::kValid     ? "valid"
                   : result.status == ValidationResult::Status::kInvalid ? "invalid"
                                                                         : "unavailable"},
      {"challenge_status", chall.status},
      {"detail", result.detail},
      {"perspectives", result.perspectives}};
  if (failed) {
    fields["result_code"] = ValidationResultCode(chall.type, *failed);
    fields["problem"] = ProblemType(failed->kind);
  }
  AppendAudit("validation_perspectives", fields);
}

void ChallengeValidations::AppendAudit(std::string_view event, const json& fields) {
  audit::AuditLog* audit = audit_.load();
  if (audit == nullptr) return;
  // Not durable, like issuance_refused: a validation's audit changes no acknowledged state; losing
  // the last ones in a crash is acceptable. A failed append is logged, never answered.
  if (auto appended = audit->Append(event, fields); !appended) {
    log::Error("audit_append_failed",
               {{"audit_event", event}, {"error", appended.error().ToString()}});
  }
}

void ChallengeValidations::ResumeInterrupted() {
  queue_.Submit([this] {
    std::vector<std::string> orders, challenges;
    Status listed = [&]() -> Status {
      auto txn = CA_TRY(s_.store.Read());
      orders = CA_TRY(txn.ProcessingOrderIds());
      challenges = CA_TRY(txn.ProcessingChallengeIds());
      return Ok();
    }();
    if (!listed) {
      log::Error("resume_failed", {{"error", listed.error().ToString()}});
      return;
    }
    log::Info("resume_interrupted", {{"orders", orders.size()}, {"challenges", challenges.size()}});
    for (const auto& id : challenges) Schedule(id);
    for (const auto& id : orders) ResumeOrder(id, 0);
  });
}

void ChallengeValidations::ResumeOrder(const std::string& order_id, int64_t delay_seconds) {
  {
    std::lock_guard lock(resume_mu_);
    const auto due = WorkQueue::Clock::now() + std::chrono::seconds(delay_seconds);
    if (!resuming_.try_emplace(order_id, due).second) return;
  }
  bool taken =
      queue_.SubmitAfter(std::chrono::seconds(delay_seconds),
                         [this, order_id, delay_seconds] { RunResume(order_id, delay_seconds); });
  if (!taken) {  // stopping: the order stays processing and is resumed at the next start
    std::lock_guard lock(resume_mu_);
    resuming_.erase(order_id);
  }
}

void ChallengeValidations::RunResume(const std::string& order_id, int64_t delay_seconds) {
  {
    std::lock_guard lock(resume_mu_);
    resuming_.erase(order_id);
  }
  if (ResumeFinalize(s_, order_id) == ResumeResult::kDone) return;
  int64_t next =
      std::clamp<int64_t>(delay_seconds * 2, kResumeFirstDelaySeconds, kResumeMaxDelaySeconds);
  log::Warn("finalize_resume_retry", {{"order", order_id}, {"retry_in_seconds", next}});
  ResumeOrder(order_id, next);
}

}  // namespace ca::gateway
