#include "gateway/adapters.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "common/encoding.h"
#include "profiles/policy/fqdn.h"

namespace ca::gateway {

namespace {

// A stored external-account record, in the form the RA writes, for no KeyID: an unknown kid is
// parsed and viewed as a known one is, so that newAccount costs the same for an unknown kid as for
// a wrong MAC (issue 14; measured with tests/hostile/eab_timing.py, README "Hostile input"); the
// engine does the same for the MAC (engine/eab_verifier.h). It carries no MAC key.
std::string DecoyRecord() {
  profiles::policy::ExternalAccount a;
  a.kid = RandomUuidV4();
  a.organization_id = RandomUuidV4();
  a.contacts = {"Decoy Operator"};
  a.not_before = 0;
  a.not_after = std::numeric_limits<int64_t>::max();
  a.allowed_profiles = {profiles::policy::ProfileId::kSsl};
  a.allowed_challenges = {"http-01", "dns-01", "tls-alpn-01"};
  a.status = profiles::policy::ExternalAccountStatus::kActive;
  return profiles::policy::ToJson(a).dump();
}

ExternalAccountView ViewOf(const profiles::policy::ExternalAccount& ext, int64_t now,
                           bool staging_grant_required) {
  ExternalAccountView v;
  v.kid = ext.kid;
  using S = profiles::policy::ExternalAccountStatus;
  switch (ext.status) {
    case S::kPending: v.refusal_code = "PENDING_EXTERNAL_ACCOUNT"; break;
    case S::kSuspended: v.refusal_code = "SUSPENDED_EXTERNAL_ACCOUNT"; break;
    case S::kDeactivated: v.refusal_code = "DEACTIVATED_EXTERNAL_ACCOUNT"; break;
    case S::kRevoked: v.refusal_code = "REVOKED_EXTERNAL_ACCOUNT"; break;
    case S::kActive: break;
  }
  if (v.refusal_code.empty() && ext.NotYetValid(now)) v.refusal_code = "PENDING_EXTERNAL_ACCOUNT";
  if (v.refusal_code.empty() && ext.Expired(now)) v.refusal_code = "EXPIRED_EXTERNAL_ACCOUNT";
  // As Decide refuses it (CheckAccounts), so that newAccount binds no account staging would refuse.
  if (v.refusal_code.empty() && staging_grant_required && !ext.staging)
    v.refusal_code = "STAGING_NOT_ALLOWED";
  for (auto p : ext.allowed_profiles)
    v.allowed_profiles.emplace_back(profiles::policy::ProfileName(p));
  v.allowed_challenges = ext.allowed_challenges;
  v.max_acme_accounts = ext.limits.max_acme_accounts;
  v.orders_per_hour = ext.limits.orders_per_hour;
  return v;
}

}  // namespace

Result<std::unique_ptr<PolicyStoreAdapter>> PolicyStoreAdapter::Open(const std::string& policy_dir,
                                                                      bool staging_grant_required) {
  auto store = CA_TRY(profiles::policy::PolicyStore::OpenReadOnly(policy_dir));
  return std::unique_ptr<PolicyStoreAdapter>(
      new PolicyStoreAdapter(std::move(store), DecoyRecord(), staging_grant_required));
}

Result<std::optional<ExternalAccountView>> PolicyStoreAdapter::FindExternalAccount(const std::string& kid, int64_t now) {
  auto snapshot = CA_TRY(store_.Snapshot());
  auto ext = snapshot.FindExternalAccount(kid);
  if (!ext) {
    // The decoy's parse and view, discarded: an unknown kid costs what a known one does.
    if (auto decoy = profiles::policy::ExternalAccountFromJson(decoy_record_)) {
      ExternalAccountView discarded = ViewOf(*decoy, now, staging_grant_required_);
      decoy_sink_.fetch_add(discarded.allowed_profiles.size(), std::memory_order_relaxed);
    }
    return std::optional<ExternalAccountView>();
  }
  return std::optional<ExternalAccountView>(ViewOf(*ext, now, staging_grant_required_));
}

// profiles::policy::Decide is a function of the snapshot, the account's facts, the names, the
// profile and `now` (seconds), and every policy write bumps the snapshot's version: a verdict is
// reused for exactly the same inputs within the same second and version. The account's standing,
// checked on every request, is then decoded from the policy records about once a second per
// account instead of once per request; the snapshot (its version) is still read every time.
Result<PolicyVerdict> PolicyStoreAdapter::Decide(const AccountRecord& account, const std::vector<std::string>& names,
                                                 const std::string& profile, int64_t now) {
  auto snapshot = CA_TRY(store_.Snapshot());
  std::string key = account.id;
  for (const std::string* part : {&account.external_account_kid, &account.profile, &profile}) {
    key += '\n';
    key += *part;
  }
  key += '\n';
  key += StatusName(account.status);
  for (const auto& name : names) {
    key += '\n';
    key += name;
  }
  {
    std::lock_guard lock(memo_mu_);
    if (memo_version_ != snapshot.version() || memo_now_ != now) {
      memo_.clear();
      memo_version_ = snapshot.version();
      memo_now_ = now;
    } else if (auto it = memo_.find(key); it != memo_.end()) {
      return it->second;
    }
  }
  auto verdict = CA_TRY(Evaluate(snapshot, account, names, profile, now));
  std::lock_guard lock(memo_mu_);
  if (memo_version_ == snapshot.version() && memo_now_ == now && memo_.size() < 4096)
    memo_.emplace(std::move(key), verdict);
  return verdict;
}

Result<PolicyVerdict> PolicyStoreAdapter::Evaluate(const profiles::policy::PolicySnapshot& snapshot,
                                                   const AccountRecord& account,
                                                   const std::vector<std::string>& names,
                                                   const std::string& profile, int64_t now) {
  profiles::policy::AccountFacts facts;
  facts.acme_account_id = account.id;
  facts.external_account_kid = account.external_account_kid;
  auto recorded = profiles::policy::ParseProfile(account.profile);
  if (!recorded) return Fail(ErrorCode::kCorrupt, "account " + account.id + " has unknown profile " + account.profile);
  facts.profile = *recorded;
  facts.client_deactivated = account.status == AccountStatus::kDeactivated;
  facts.staging_grant_required = staging_grant_required_;
  profiles::policy::ProfileId effective = profiles::policy::EffectiveProfile(snapshot, facts);
  auto requested = profiles::policy::ParseProfile(profile);
  PolicyVerdict v;
  v.policy_version = snapshot.version();
  v.profile = std::string(profiles::policy::ProfileName(effective));
  if (!requested) {
    v.result_code = "PROFILE_NOT_ALLOWED";
    v.detail = "unknown profile " + profile;
    return v;
  }
  profiles::policy::Decision d = profiles::policy::Decide(snapshot, facts, names, names.empty() ? effective : *requested, now);
  // With no names, Decide checks the account and profile and then refuses INVALID_DOMAIN for the
  // empty identifier list: that refusal means the account itself is in good standing.
  if (names.empty() && d.code == profiles::policy::ResultCode::kInvalidDomain && d.name.empty()) {
    v.allowed = true;
    return v;
  }
  v.allowed = d.ok();
  if (!v.allowed) {
    v.result_code = std::string(profiles::policy::ResultCodeName(d.code));
    v.name = d.name;
    v.detail = d.detail;
  }
  return v;
}

Result<std::vector<std::string>> PolicyStoreAdapter::ChallengeTypes(const AccountRecord& account,
                                                                    const std::string& name,
                                                                    const std::string& profile, int64_t) {
  auto snapshot = CA_TRY(store_.Snapshot());
  std::vector<std::string> types;
  auto ext = snapshot.FindExternalAccount(account.external_account_kid);
  auto profile_id = profiles::policy::ParseProfile(profile);
  if (!ext || !profile_id) return types;
  auto normalised = profiles::policy::NormalizeFqdn(name, /*allow_wildcard=*/true);
  if (!normalised) return types;
  auto entry = profiles::policy::FindAuthorizingDomain(snapshot, account.external_account_kid, *normalised,
                                                       *profile_id);
  if (!entry) return types;
  for (const auto& t : ext->allowed_challenges)
    if (std::ranges::find(entry->dcv_methods, t) != entry->dcv_methods.end()) types.push_back(t);
  return types;
}

Result<engine::api::Response> EngineAdapter::Call(const engine::api::Request& request) {
  std::shared_ptr<engine::api::EngineClient> client;
  {
    std::lock_guard lock(mu_);
    if (!client_) {
      auto connected = engine::api::EngineClient::Connect(options_);
      if (!connected) return std::unexpected(connected.error());
      client_ = std::make_shared<engine::api::EngineClient>(std::move(*connected));
    }
    client = client_;
  }
  auto answer = client->Call(request);
  if (!answer) {
    std::lock_guard lock(mu_);
    if (client_ == client) client_.reset();
  }
  return answer;
}

ValidationResult ToValidationResult(const gateway::validation::Outcome& outcome) {
  ValidationResult r;
  r.detail = outcome.detail;
  if (!outcome.perspectives.empty())
    r.perspectives = gateway::validation::PerspectiveReportsToJson(outcome.perspectives);
  switch (outcome.kind) {
    case gateway::validation::OutcomeKind::kValid: r.status = ValidationResult::Status::kValid; return r;
    case gateway::validation::OutcomeKind::kUnavailable: r.status = ValidationResult::Status::kUnavailable; return r;
    case gateway::validation::OutcomeKind::kInvalid: r.status = ValidationResult::Status::kInvalid; break;
  }
  using P = gateway::validation::ProblemType;
  switch (outcome.problem) {
    case P::kIncorrectResponse: r.problem = ProblemKind::kIncorrectResponse; break;
    case P::kUnauthorized: r.problem = ProblemKind::kUnauthorized; break;
    case P::kDns: r.problem = ProblemKind::kDns; break;
    case P::kConnection: r.problem = ProblemKind::kConnection; break;
    case P::kTls: r.problem = ProblemKind::kTls; break;
    case P::kCaa: r.problem = ProblemKind::kCaa; break;
    case P::kMalformed: r.problem = ProblemKind::kMalformed; break;
  }
  return r;
}

namespace {
constexpr auto kValidationBudget = std::chrono::seconds(60);
}

ValidationResult ValidatorAdapter::ValidateChallenge(const std::string& type, const std::string& name,
                                                     const std::string& token, const std::string& key_authorization) {
  auto parsed = gateway::validation::ParseChallengeType(type);
  if (!parsed) return {ValidationResult::Status::kInvalid, ProblemKind::kMalformed, parsed.error().message};
  gateway::validation::ChallengeRequest req;
  req.type = *parsed;
  req.identifier = name;
  req.token = token;
  req.key_authorization = key_authorization;
  auto outcome = validator_->ValidateChallenge(req, gateway::validation::Clock::now() + kValidationBudget);
  if (!outcome) return {ValidationResult::Status::kInvalid, ProblemKind::kMalformed, outcome.error().message};
  return ToValidationResult(*outcome);
}

ValidationResult ValidatorAdapter::CheckCaa(const std::string& name, bool wildcard, const std::string& account_uri,
                                            const std::string& method) {
  gateway::validation::CaaRequest req;
  req.account_uri = account_uri;
  if (!method.empty()) {
    auto parsed = gateway::validation::ParseChallengeType(method);
    if (parsed) req.method = *parsed;
  }
  auto outcome = validator_->CheckCaa(wildcard ? "*." + name : name, req, gateway::validation::Clock::now() + kValidationBudget);
  if (!outcome) return {ValidationResult::Status::kInvalid, ProblemKind::kMalformed, outcome.error().message};
  return ToValidationResult(*outcome);
}

}  // namespace ca::gateway
