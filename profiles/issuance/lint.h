// Lint of a subscriber certificate: pki/lint's leaf role with the exact values the profile and
// the request promise (pki::LeafExpectations). All findings are returned; the engine refuses to
// sign (or to hand out) on any finding.
#pragma once

#include <openssl/x509.h>

#include <span>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"
#include "pki/lint.h"
#include "profiles/issuance/profile.h"
#include "profiles/issuance/tbs.h"

namespace ca::profiles::issuance {

using pki::CheckSignedAsLinted;
using pki::FormatFindings;
using pki::LintedTbs;
using pki::LintFinding;

// What the profile and the request promise for the certificate (pki::LintOptions::expect).
pki::LeafExpectations LeafExpectationsFor(const Profile& profile, const Issuer& issuer,
                                          const TbsRequest& request);

// A TBS from BuildTbs (unsigned; signature algorithm set): encodes it with OpenSSL, parses the
// bytes back and lints the parsed certificate.
std::vector<LintFinding> LintTbsFindings(const X509* tbs, const Profile& profile,
                                         const Issuer& issuer, const TbsRequest& request);
// A signed certificate's DER: the same rules, plus the outer signature algorithm equals the TBS one
// and the signature verifies with the issuer certificate's key.
std::vector<LintFinding> LintCertificateFindings(std::span<const uint8_t> der,
                                                 const Profile& profile, const Issuer& issuer,
                                                 const TbsRequest& request);

// The same, as a value or kInternal "lint: <rule>: <detail>; …" listing every finding (a
// certificate that fails lint after BuildTbs is a bug, never the subscriber's fault).
Result<LintedTbs> LintTbs(const X509* tbs, const Profile& profile, const Issuer& issuer,
                          const TbsRequest& request);
Status LintCertificate(const X509* certificate, const Profile& profile, const Issuer& issuer,
                       const TbsRequest& request);

}  // namespace ca::profiles::issuance
