#include "engine/engine.h"

#include "common/log.h"
#include "engine/lease_keeper.h"

namespace ca::engine {

using engine::api::EngineError;
using engine::api::EngineErrorKind;
using engine::api::Response;

Result<std::unique_ptr<Engine>> Engine::Open(
    profiles::policy::PolicyStore policy, std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>> instances) {
  if (!instances.contains(engine::api::CaEnvironment::kProduction)) {
    return Fail(ErrorCode::kInvalidArgument, "the production CA instance is required");
  }
  return std::unique_ptr<Engine>(new Engine(std::move(policy), std::move(instances)));
}

Engine::~Engine() { Stop(); }

bool Engine::IsActive(const CaInstance& inst) {
  return inst.lease() == nullptr || inst.lease()->Active();
}

CaInstance* Engine::instance(engine::api::CaEnvironment env) {
  auto it = instances_.find(env);
  return it == instances_.end() ? nullptr : it->second.get();
}

Response Engine::Handle(const engine::api::Request& request, const PeerInfo& peer) {
  Response response = Route(request, peer);
  if (observer_ != nullptr) return observer_->OnResponse(request, std::move(response));
  return response;
}

// Engine pair: a node that does not hold its instance's lease answers every request with this
// (the gateway's engine client moves to its next endpoint on the detail's prefix).
std::optional<Response> Engine::RefuseOnStandby(engine::api::CaEnvironment env) {
  CaInstance* inst = instance(env);
  const LeaseKeeper* lease = inst != nullptr ? inst->lease() : nullptr;
  if (lease == nullptr || lease->Active()) return std::nullopt;
  return EngineError{EngineErrorKind::kUnavailable, "ACME_CA_ERROR", "", lease->StandbyDetail()};
}

Response Engine::Route(const engine::api::Request& request, const PeerInfo& peer) {
  auto env = std::visit([](const auto& r) { return r.environment; }, request);
  if (auto standby = RefuseOnStandby(env)) return *standby;
  if (const auto* eab = std::get_if<engine::api::VerifyExternalAccountBindingRequest>(&request))
    return VerifyEab(*eab);
  CaInstance* inst = instance(env);
  if (inst == nullptr) {
    log::Warn("request_refused", {{"reason", "environment not configured"},
                                  {"environment", engine::api::CaEnvironmentName(env)},
                                  {"uid", peer.uid}});
    return EngineError{EngineErrorKind::kBadRequest, "", "",
                       std::string(engine::api::CaEnvironmentName(env)) + " CA is not configured"};
  }
  if (const auto* issue = std::get_if<engine::api::IssueRequest>(&request)) {
    auto snapshot = policy_.Snapshot();
    if (!snapshot) {
      log::Error("policy_snapshot_failed", {{"error", snapshot.error().ToString()}});
      return EngineError{EngineErrorKind::kUnavailable, "", "", "policy store unavailable"};
    }
    return inst->Issue(*issue, *snapshot);
  }
  if (const auto* revoke = std::get_if<engine::api::RevokeRequest>(&request)) return inst->Revoke(*revoke);
  if (const auto* all = std::get_if<engine::api::RevokeAllForAccountRequest>(&request)) return inst->RevokeAll(*all);
  return inst->GetCertificate(std::get<engine::api::GetCertificateRequest>(request));
}

Response Engine::VerifyEab(const engine::api::VerifyExternalAccountBindingRequest& request) {
  if (!eab_verifier_)
    return EngineError{EngineErrorKind::kUnavailable, "", "",
                       "no MAC wrapping key configured (ceremony mac-wrap, engine mac_wrap_key_label)"};
  auto snapshot = policy_.Snapshot();
  if (!snapshot) {
    log::Error("policy_snapshot_failed", {{"error", snapshot.error().ToString()}});
    return EngineError{EngineErrorKind::kUnavailable, "", "", "policy store unavailable"};
  }
  auto verified = eab_verifier_->Verify(*snapshot, request);
  if (!verified) {
    log::Error("eab_verification_failed", {{"error", verified.error().ToString()}});
    return EngineError{EngineErrorKind::kUnavailable, "", "", "HSM unavailable for EAB verification"};
  }
  return engine::api::ExternalAccountBindingVerdict{*verified};
}

void Engine::CheckPolicy() {
  auto snapshot = policy_.Snapshot();
  if (!snapshot) {
    log::Error("policy_snapshot_failed", {{"error", snapshot.error().ToString()}});
    return;
  }
  if (snapshot->version() == applied_policy_version_) return;
  bool all_ok = true;
  for (auto& [env, inst] : instances_) {
    if (!IsActive(*inst)) {  // the lease holder applies them (this node does at its takeover)
      all_ok = false;
      continue;
    }
    uint64_t applied_before = observer_ != nullptr ? inst->store().AppliedMassRevocationSeq().value_or(0) : 0;
    auto s = inst->ApplyMassRevocations(*snapshot);
    if (observer_ != nullptr) {
      if (auto a = observer_->OnMassRevocations(env, *inst, applied_before); !a) all_ok = false;
    }
    if (!s) {
      all_ok = false;
      log::Error("mass_revocation_failed",
                 {{"environment", engine::api::CaEnvironmentName(env)}, {"error", s.error().ToString()}});
    }
  }
  if (all_ok) applied_policy_version_ = snapshot->version();  // else retried next second
}

Status Engine::StartBackground() {
  CheckPolicy();
  thread_ = std::thread([this] { Loop(); });
  return Ok();
}

void Engine::Post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    posted_.push_back(std::move(fn));
  }
  cv_.notify_all();
}

void Engine::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& [env, inst] : instances_) (void)inst->FlushAuditMarkers();  // else rechecked at start
}

void Engine::Loop() {
  auto next_second = std::chrono::steady_clock::now();
  int ticks = 0;
  for (;;) {
    std::vector<std::function<void()>> posted;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_second, [&] { return stopping_ || !posted_.empty(); });
      if (stopping_) return;
      posted.swap(posted_);
    }
    for (auto& fn : posted) fn();
    if (std::chrono::steady_clock::now() < next_second) continue;
    next_second += std::chrono::seconds(1);
    ++ticks;
    CheckPolicy();
    if (observer_ != nullptr) observer_->OnTick(instances_);
    for (auto& [env, inst] : instances_) {
      // Engine pair: the standby runs no job (no status job, no completion, no store write); the
      // node that becomes active reconciles first.
      if (!IsActive(*inst)) continue;
      if (const LeaseKeeper* lease = inst->lease(); lease != nullptr) {
        uint64_t activations = lease->activations();
        if (activations != taken_over_[env]) {
          log::Info("engine_takeover", {{"environment", engine::api::CaEnvironmentName(env)},
                                        {"lease", lease->options().lease},
                                        {"epoch", lease->epoch()}});
          applied_policy_version_ = 0;  // the mass revocations are re-checked next second
          if (auto s = inst->TakeOver(); !s) {
            log::Error("takeover_reconciliation_failed",
                       {{"environment", engine::api::CaEnvironmentName(env)},
                        {"error", s.error().ToString()}});
          } else {
            taken_over_[env] = activations;  // else retried next second
          }
        }
      }
      if (auto s = inst->FlushAuditMarkers(); !s) {
        log::Warn("audit_marker_flush_failed", {{"environment", engine::api::CaEnvironmentName(env)},
                                                {"error", s.error().ToString()}});
      }
      if (auto s = inst->RunStatusJobs(); !s) {
        log::Error("status_jobs_failed", {{"environment", engine::api::CaEnvironmentName(env)},
                                          {"error", s.error().ToString()}});
      }
      // Reservations whose signature failed (HSM fault) are signed once the token is back.
      if (ticks % 5 == 0) {
        if (auto s = inst->CompleteAllPending(/*min_age_seconds=*/5); !s) {
          log::Warn("pending_completion_failed", {{"environment", engine::api::CaEnvironmentName(env)},
                                                   {"error", s.error().ToString()}});
        }
      }
    }
  }
}

}  // namespace ca::engine
