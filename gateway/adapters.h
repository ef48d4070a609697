// The real implementations of the gateway's ports: the policy store (profiles/policy), the
// signing engine client (engine/api) and the domain-control validator (gateway/validation).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/secret.h"
#include "engine/api/client.h"
#include "gateway/ports.h"
#include "gateway/validation/validator.h"
#include "profiles/policy/decision.h"
#include "profiles/policy/store.h"

namespace ca::gateway {

class PolicyStoreAdapter final : public PolicyPort {
 public:
  // staging_grant_required: this gateway serves the staging directory open per account, so an
  // external account needs the RA's `staging` grant (profiles/policy/decision.h, CA-8).
  static Result<std::unique_ptr<PolicyStoreAdapter>> Open(const std::string& policy_dir,
                                                          bool staging_grant_required = false);
  Result<std::optional<ExternalAccountView>> FindExternalAccount(const std::string& kid, int64_t now) override;
  Result<PolicyVerdict> Decide(const AccountRecord& account, const std::vector<std::string>& names,
                               const std::string& profile, int64_t now) override;
  Result<std::vector<std::string>> ChallengeTypes(const AccountRecord& account, const std::string& name,
                                                  const std::string& profile, int64_t now) override;

 private:
  PolicyStoreAdapter(profiles::policy::PolicyStore store, std::string decoy_record, bool staging_grant_required)
      : store_(std::move(store)),
        decoy_record_(std::move(decoy_record)),
        staging_grant_required_(staging_grant_required) {}
  Result<PolicyVerdict> Evaluate(const profiles::policy::PolicySnapshot& snapshot,
                                 const AccountRecord& account, const std::vector<std::string>& names,
                                 const std::string& profile, int64_t now);
  profiles::policy::PolicyStore store_;
  // An external-account record for no KeyID, worked on for an unknown kid (adapters.cpp).
  std::string decoy_record_;
  bool staging_grant_required_ = false;
  std::atomic<size_t> decoy_sink_{0};  // keeps that work from being optimised away
  // Verdicts of the current second and policy version, by their other inputs (Decide).
  std::mutex memo_mu_;
  uint64_t memo_version_ = 0;
  int64_t memo_now_ = 0;
  std::unordered_map<std::string, PolicyVerdict> memo_;
};

class EngineAdapter final : public IssuerPort {
 public:
  explicit EngineAdapter(engine::api::EngineClientOptions options) : options_(std::move(options)) {}
  // Connects lazily (and reconnects after a failure), so the gateway starts before the engine.
  Result<engine::api::Response> Call(const engine::api::Request& request) override;

 private:
  engine::api::EngineClientOptions options_;
  std::mutex mu_;
  std::shared_ptr<engine::api::EngineClient> client_;
};

class ValidatorAdapter final : public ValidatorPort {
 public:
  explicit ValidatorAdapter(std::shared_ptr<const gateway::validation::Validator> validator)
      : validator_(std::move(validator)) {}
  ValidationResult ValidateChallenge(const std::string& type, const std::string& name, const std::string& token,
                                     const std::string& key_authorization) override;
  ValidationResult CheckCaa(const std::string& name, bool wildcard, const std::string& account_uri,
                            const std::string& method) override;

 private:
  std::shared_ptr<const gateway::validation::Validator> validator_;
};

// The validation library's outcome in the gateway's terms.
ValidationResult ToValidationResult(const gateway::validation::Outcome& outcome);

}  // namespace ca::gateway
