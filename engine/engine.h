// The engine: routes authenticated requests to the CA instance of their environment (CA-8), gives
// each Issue the current policy snapshot, and runs the background jobs (mass revocations on policy
// change, OCSP/CRL freshness, completion of reservations left pending by an HSM fault).
// Engine pair (issue 20): an instance with a lease keeper (CaInstanceOptions::lease) that is not
// active refuses every request ("engine standby: ...") and runs no job; when its keeper becomes
// active the background thread runs CaInstance::TakeOver before any other job.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/api/contract.h"
#include "engine/ca_instance.h"
#include "engine/eab_verifier.h"
#include "engine/channel_server.h"
#include "engine/observer.h"
#include "profiles/policy/store.h"

namespace ca::engine {

class Engine {
 public:
  // `instances` must hold production; staging is optional.
  static Result<std::unique_ptr<Engine>> Open(
      profiles::policy::PolicyStore policy, std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>> instances);
  ~Engine();  // Stop()

  engine::api::Response Handle(const engine::api::Request& request, const PeerInfo& peer);

  // Applies pending mass revocations now, then polls the policy version every second.
  Status StartBackground();
  void Stop();

  // Audit and metrics (engine/recorder.h); set before StartBackground, must outlive the engine.
  void SetObserver(EngineObserver* observer) { observer_ = observer; }

  // Answers VerifyExternalAccountBindingRequest; without one, those requests are refused as
  // kUnavailable. Set before the channel starts.
  void SetEabVerifier(std::unique_ptr<EabVerifier> verifier) { eab_verifier_ = std::move(verifier); }

  // Runs `fn` on the background thread at its next tick (test hooks: HSM fault injection).
  void Post(std::function<void()> fn);

  CaInstance* instance(engine::api::CaEnvironment env);

 private:
  Engine(profiles::policy::PolicyStore policy, std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>> instances)
      : policy_(std::move(policy)), instances_(std::move(instances)) {}
  void Loop();
  void CheckPolicy();
  engine::api::Response Route(const engine::api::Request& request, const PeerInfo& peer);
  // Engine pair (issue 20): the standby's refusal when `env`'s instance does not hold its lease.
  std::optional<engine::api::Response> RefuseOnStandby(engine::api::CaEnvironment env);
  static bool IsActive(const CaInstance& inst);  // no lease keeper (single box): always
  engine::api::Response VerifyEab(const engine::api::VerifyExternalAccountBindingRequest& request);

  profiles::policy::PolicyStore policy_;
  std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>> instances_;
  uint64_t applied_policy_version_ = 0;
  // Per instance: the lease keeper's activations already reconciled (CaInstance::TakeOver).
  std::map<engine::api::CaEnvironment, uint64_t> taken_over_;
  EngineObserver* observer_ = nullptr;
  std::unique_ptr<EabVerifier> eab_verifier_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::function<void()>> posted_;
  std::thread thread_;
};

}  // namespace ca::engine
