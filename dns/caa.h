// CAA (RFC 8659) with the RFC 8657 parameters accounturi and validationmethods: the one
// implementation of the rules, used by the gateway's validator (gateway/validation/caa.h, at
// new-order, after each challenge and at finalize) and by ca-ra when it adds or validates an
// authorised domain (ANSSI R7).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/dns_client.h"

namespace ca::dns {

struct CaaRequest {
  std::vector<std::string> identities;  // this CA's CAA issuer domain names (CAA_IDENTITIES)
  // Checked against accounturi= when known. The RA has no ACME account yet: records naming this
  // CA with an accounturi then permit (the gateway judges the account at issuance).
  std::optional<std::string> account_uri;
  // "http-01", "dns-01" or "tls-alpn-01", checked against validationmethods= when known (at
  // newOrder and in the RA it is not: such records are judged at validation time).
  std::optional<std::string> method;
};

enum class CaaVerdict {
  kPermitted,     // no relevant record, or one names this CA with parameters that fit
  kForbidden,     // the relevant set does not authorise this CA (or has an unknown critical tag)
  kLookupFailed,  // SERVFAIL, REFUSED or an unusable answer: not permitted (RFC 8659 §3)
  kNoAnswer,      // the resolver did not answer (transient)
  kBadName,       // the identifier is not a DNS name
};

struct CaaDecision {
  CaaVerdict verdict = CaaVerdict::kPermitted;
  std::string detail;  // one line: why
  bool permitted() const { return verdict == CaaVerdict::kPermitted; }
};

// Decides on the relevant record set of one name (`owner`, named in the detail). Wildcards use
// issuewild when the set has one, else issue.
CaaDecision EvaluateCaaSet(const std::vector<CaaRecord>& records, bool wildcard,
                           const CaaRequest& request, const std::string& owner);

// Climbs from the identifier ("*.example.com" allowed: the issuewild rules) towards the TLD; the
// first non-empty CAA RRset (CNAMEs followed by the client) decides; none anywhere permits.
CaaDecision CheckCaa(const DnsClient& dns, std::string_view identifier, const CaaRequest& request);

}  // namespace ca::dns
