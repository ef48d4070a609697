// The validator's side of CAA: the rules are dns/caa.cpp (shared with ca-ra); this maps their
// decision to an Outcome and the vantage point's resolver failure to a transient one.
#include "gateway/validation/caa.h"

namespace ca::gateway::validation {

namespace {

dns::CaaRequest Shared(const std::vector<std::string>& identities, const CaaRequest& request) {
  dns::CaaRequest out{identities, request.account_uri, std::nullopt};
  if (request.method) out.method = std::string(ChallengeTypeName(*request.method));
  return out;
}

Outcome ToOutcome(const Perspective* p, dns::CaaDecision decision) {
  switch (decision.verdict) {
    case dns::CaaVerdict::kPermitted:
      return Outcome::Valid(std::move(decision.detail));
    case dns::CaaVerdict::kForbidden:
    case dns::CaaVerdict::kLookupFailed:
      return Outcome::Invalid(ProblemType::kCaa, std::move(decision.detail));
    case dns::CaaVerdict::kBadName:
      return Outcome::Invalid(ProblemType::kMalformed, std::move(decision.detail));
    case dns::CaaVerdict::kNoAnswer:
      if (p == nullptr) break;
      return DnsErrorOutcome(*p, Error{ErrorCode::kUnavailable, std::move(decision.detail)});
  }
  return Outcome::Unavailable(std::move(decision.detail));
}

}  // namespace

Outcome EvaluateCaaSet(const std::vector<CaaRecord>& records, bool wildcard,
                       const std::vector<std::string>& identities, const CaaRequest& request,
                       const std::string& owner) {
  return ToOutcome(nullptr,
                   dns::EvaluateCaaSet(records, wildcard, Shared(identities, request), owner));
}

Outcome CheckCaa(const Perspective& p, const std::string& identifier, const CaaRequest& request) {
  return ToOutcome(&p, dns::CheckCaa(p.dns, identifier, Shared(p.config.caa_identities, request)));
}

}  // namespace ca::gateway::validation
