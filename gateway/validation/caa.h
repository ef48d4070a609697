// CAA (RFC 8659) with the RFC 8657 parameters accounturi and validationmethods, as outcomes of the
// validator; the rules themselves are dns/caa.h (one implementation, shared with ca-ra).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dns/caa.h"
#include "gateway/validation/dns_client.h"
#include "gateway/validation/outcome.h"
#include "gateway/validation/perspective.h"

namespace ca::gateway::validation {

struct CaaRequest {
  std::string account_uri;  // the ACME account URL; checked against accounturi=
  std::optional<ChallengeType>
      method;  // checked against validationmethods= when known; at newOrder
               // time it is not, and records with validationmethods are
               // then judged at validation time (check again with it)
};

// Decides on the relevant record set of one name. identities: the CA's CAA identities. `owner` is
// the name the set was found at (for the detail). Valid when issuance is permitted, otherwise
// Invalid with ProblemType::kCaa.
Outcome EvaluateCaaSet(const std::vector<CaaRecord>& records, bool wildcard,
                       const std::vector<std::string>& identities, const CaaRequest& request,
                       const std::string& owner);

// Climbs from the identifier ("*.example.com" allowed) towards the root; the first non-empty CAA
// RRset (CNAMEs followed by the DNS client) decides; none anywhere permits. A lookup that fails
// (SERVFAIL, REFUSED, malformed) refuses; a resolver that does not answer gives kUnavailable.
Outcome CheckCaa(const Perspective& p, const std::string& identifier, const CaaRequest& request);

}  // namespace ca::gateway::validation
