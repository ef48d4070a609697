// Lint: parses the exact DER bytes of a TBS or a signed certificate and checks every rule of the
// profile against what the request asked for. All findings are returned; the engine refuses to
// sign (or to hand out) on any finding.
#pragma once

#include <openssl/x509.h>

#include <span>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"
#include "profiles/issuance/profile.h"
#include "profiles/issuance/tbs.h"

namespace ca::issuance {

struct LintFinding {
  std::string rule;    // stable id: "validity", "basic_constraints", "subject_alt_name", …
  std::string detail;  // what is wrong, one line
};

// A TBS from BuildTbs (unsigned; signature algorithm set): encodes it with OpenSSL, parses the
// bytes back and lints the parsed certificate.
std::vector<LintFinding> LintTbsFindings(const X509* tbs, const Profile& profile,
                                         const Issuer& issuer, const TbsRequest& request);
// A signed certificate's DER: the same rules, plus the outer signature algorithm equals the TBS one
// and the signature verifies with the issuer certificate's key.
std::vector<LintFinding> LintCertificateFindings(std::span<const uint8_t> der,
                                                 const Profile& profile, const Issuer& issuer,
                                                 const TbsRequest& request);

// What LintTbs passed: the DER it linted, the certificate OpenSSL decoded from exactly those bytes
// and that certificate's TBSCertificate encoding. The engine signs `certificate` (so what it signs
// is the linted TBS) and records `der` as the reservation.
struct LintedTbs {
  ossl::X509Ptr certificate;
  ossl::Bytes der;
  ossl::Bytes tbs_der;
};

// The same, as a value or kInternal "lint: <rule>: <detail>; …" listing every finding (a
// certificate that fails lint after BuildTbs is a bug, never the subscriber's fault).
Result<LintedTbs> LintTbs(const X509* tbs, const Profile& profile, const Issuer& issuer,
                          const TbsRequest& request);
Status LintCertificate(const X509* certificate, const Profile& profile, const Issuer& issuer,
                       const TbsRequest& request);

// After signing `linted.certificate`: its TBSCertificate is still byte for byte the linted one and
// the outer signature algorithm equals the TBS one, so every rule LintTbs checked holds for the
// signed certificate without decoding it again (kInternal otherwise). The caller verifies the
// signature with the issuer's key.
Status CheckSignedAsLinted(const X509* certificate, const LintedTbs& linted);

std::string FormatFindings(const std::vector<LintFinding>& findings);

}  // namespace ca::issuance
