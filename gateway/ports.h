// What the ACME server needs from the rest of the system, as small interfaces: the policy snapshot
// (external accounts, the decision function), the signing engine, and the domain-control
// validator. main.cpp wires the real implementations (profiles/policy, engine/api, validation);
// unit tests pass fakes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "engine/api/contract.h"
#include "gateway/problems.h"
#include "gateway/store.h"

namespace ca::gateway {

struct ExternalAccountView {
  std::string kid;
  // Empty when the external account may bind new ACME accounts; otherwise the operator result code
  // saying why not (PENDING_EXTERNAL_ACCOUNT, SUSPENDED_EXTERNAL_ACCOUNT, EXPIRED_EXTERNAL_ACCOUNT…).
  std::string refusal_code;
  std::vector<std::string> allowed_profiles;    // first: default profile of new ACME accounts
  std::vector<std::string> allowed_challenges;  // subset of http-01, dns-01, tls-alpn-01
  uint32_t max_acme_accounts = 0;
  uint32_t orders_per_hour = 0;
};

// The outcome of the policy decision function for an account (and names, for orders).
struct PolicyVerdict {
  bool allowed = false;
  std::string result_code;  // operator result code when refused
  std::string name;         // offending identifier, if any
  std::string detail;
  uint64_t policy_version = 0;
  std::string profile;  // the account's effective profile (the RA may override it)
};

class PolicyPort {
 public:
  virtual ~PolicyPort() = default;
  // nullopt: no such KeyID.
  virtual Result<std::optional<ExternalAccountView>> FindExternalAccount(const std::string& kid,
                                                                         int64_t now) = 0;
  // Runs the decision function on the current snapshot. `names` empty: account standing only
  // (used before revocation and key changes).
  virtual Result<PolicyVerdict> Decide(const AccountRecord& account, const std::vector<std::string>& names,
                                       const std::string& profile, int64_t now) = 0;
  // The challenge types `name` ("*.example.com" for a wildcard) may be validated with (POL-5): the
  // external account's types that the RA's domain entry authorising the name allows, found as the
  // decision function finds it. Empty: none (no such entry or external account). The default, for
  // test doubles, knows no per-domain restriction.
  virtual Result<std::vector<std::string>> ChallengeTypes(const AccountRecord& account, const std::string& name,
                                                          const std::string& profile, int64_t now) {
    (void)name;
    (void)profile;
    auto ext = CA_TRY(FindExternalAccount(account.external_account_kid, now));
    return ext ? ext->allowed_challenges : std::vector<std::string>();
  }
};

class IssuerPort {
 public:
  virtual ~IssuerPort() = default;
  // Transport failures are errors; engine refusals are the EngineError alternative.
  virtual Result<engine::api::Response> Call(const engine::api::Request& request) = 0;
};

struct ValidationResult {
  enum class Status { kValid, kInvalid, kUnavailable } status = Status::kInvalid;
  ProblemKind problem = ProblemKind::kConnection;  // when not valid
  std::string detail;
  // Each perspective's answer when several (or remote agents) took part, for the audit trail:
  // [{"name", "remote", "outcome", "problem", "detail", "addresses"}]; null otherwise.
  nlohmann::json perspectives = nullptr;
};

class ValidatorPort {
 public:
  virtual ~ValidatorPort() = default;
  // Blocking; called from the gateway's validation workers, never from HTTP threads.
  virtual ValidationResult ValidateChallenge(const std::string& type, const std::string& name,
                                             const std::string& token,
                                             const std::string& key_authorization) = 0;
  // CAA for `name` (without "*."), `wildcard` selecting issuewild.
  virtual ValidationResult CheckCaa(const std::string& name, bool wildcard, const std::string& account_uri,
                                    const std::string& method) = 0;
};

}  // namespace ca::gateway
