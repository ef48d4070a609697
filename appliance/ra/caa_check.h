// ANSSI R7: CAA is checked when the RA feeds the authorised-domain list. `domain add` and
// `domain validate` ask CAA for the entry (a wildcard entry: the issuewild rules) with the rules
// the gateway applies at issuance (dns/caa.h), before anything is written; a set that does not
// authorise this CA, or a lookup that fails, refuses the command with one line.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace ca::appliance::ra {

// From ra.conf (caa_identities, caa_resolver; acme-ca-setup writes them from setup.conf's
// CAA_IDENTITIES and DNS_RESOLVER) or the environment (CA_CAA_IDENTITIES, CA_CAA_RESOLVER).
struct CaaSettings {
  std::vector<std::string> identities;  // empty: CAA is not checked (ca-ra warns)
  std::string resolver = "127.0.0.1:53";
  bool configured() const { return !identities.empty(); }
  // identities: comma-separated; resolver: "IPv4[:port]", empty for the default.
  static CaaSettings From(const std::string& identities, const std::string& resolver);
};

// Checks CAA for `fqdn` (normalised; "*." allowed). The value is the one-line reason issuance is
// permitted; the error is the one-line refusal, naming the name, the record or the DNS failure,
// and saying that nothing was changed.
Result<std::string> CheckDomainCaa(const CaaSettings& settings, const std::string& fqdn);

}  // namespace ca::appliance::ra
