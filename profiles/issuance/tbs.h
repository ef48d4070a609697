// The profile-specific choices of a subscriber certificate (CA-4, CA-7, CA-8): which subject,
// extensions and validity, from profile + organization + CSR. pki/cert_builder builds the TBS with
// every field set, the signature algorithm included, nothing signed. The engine lints it
// (lint.h), records it, signs it with X509_sign(tbs, issuer_key, EVP_sha256()) and checks the
// signed certificate still carries the linted TBS.
#pragma once

#include <openssl/x509.h>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"
#include "profiles/issuance/profile.h"
#include "pki/serial.h"

namespace ca::profiles::issuance {

// The OV subject from the organization record (POL-1).
struct Organization {
  std::string name;      // O, 1..64 characters, UTF-8
  std::string locality;  // L, 1..128 characters, UTF-8
  std::string country;   // C, ISO 3166-1 alpha-2, upper case ("FR")
};

// The CA instance that issues: its certificate and where relying parties find status and chain.
struct Issuer {
  const X509* certificate = nullptr;  // the issuing intermediate; must carry a subjectKeyIdentifier
  std::string ocsp_url;               // AIA id-ad-ocsp, http://
  std::string ca_issuers_url;         // AIA id-ad-caIssuers, http://
  std::string crl_url;                // CRL distribution point, http://
};

struct TbsRequest {
  Organization organization;
  std::vector<std::string> names;        // dNSNames in order; the first that fits becomes the CN
  const EVP_PKEY* public_key = nullptr;  // from CheckCsr
  // Optional: the CSR's SubjectPublicKeyInfo (AcceptedCsr::public_key_info), reused as the
  // certificate's when it is the canonical encoding of public_key (pki::IsCanonicalSpkiOf), else
  // the key is encoded anew; the lint then checks the encoded key is public_key.
  const X509_PUBKEY* public_key_info = nullptr;
  pki::Serial serial;                    // from pki::Serial::Generate, reserved by the CA store
  std::chrono::sys_seconds now{};
  // Inclusive validity length (RFC 5280): notAfter = notBefore + validity − 1 s.
  // nullopt: the profile's max_validity. Longer than the profile allows: refused.
  std::optional<std::chrono::seconds> validity;
  // This certificate's CRL distribution point when it is not the issuer's full CRL: the URL of
  // the CRL shard the engine assigned it (crl_ocsp::CrlScopeUrl). Empty: issuer.crl_url.
  std::string crl_url;
};

// The URL in the certificate's CRL distribution point (the request's shard URL, else the
// issuer's full CRL): what BuildTbs writes and the lint expects.
const std::string& CrlUrlOf(const Issuer& issuer, const TbsRequest& request);

struct ValidityPeriod {
  std::chrono::sys_seconds not_before{};
  std::chrono::sys_seconds not_after{};
};

Status ValidateOrganization(const Organization& org);
Status ValidateIssuer(const Issuer& issuer);

// notBefore = now − profile.backdate; notAfter = notBefore + validity − 1 s.
Result<ValidityPeriod> ComputeValidity(const Profile& profile, const TbsRequest& request);

// The subject CN: the first name whose CN form (staging: "TEST " + name) fits in 64 characters.
// None fits: production has no CN (O/L/C identify the subject), staging has CN "TEST".
std::optional<std::string> SubjectCommonName(const Profile& profile,
                                             std::span<const std::string> names);

// The signature algorithm the TBS announces for the issuer's key: sha256WithRSAEncryption for RSA,
// ecdsa-with-SHA256 for EC; anything else is refused.
Result<int> SignatureNidFor(const EVP_PKEY* issuer_key);

// Validates every input (profile enabled, names, organization, issuer, key, serial, validity)
// and builds the TBS. Bad input: kInvalidArgument naming it; nothing is built.
Result<ossl::X509Ptr> BuildTbs(const Profile& profile, const Issuer& issuer,
                               const TbsRequest& request);

}  // namespace ca::profiles::issuance
