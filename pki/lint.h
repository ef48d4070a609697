// The one certificate and CRL linter. It parses the exact DER of what was produced and checks the
// rules of the certificate's role (RFC 5280, CA/B Baseline Requirements, ANSSI):
//   root          self-issued CA, pathLen 1, keyCertSign+cRLSign, P-384 or RSA 3072/4096
//   intermediate  CA pathLen 0, EKU serverAuth, CRL DP, AIA caIssuers, critical name constraints
//   ocsp-signer   CA:FALSE, digitalSignature, EKU OCSPSigning, id-pkix-ocsp-nocheck
//   leaf          a TLS server certificate: CA:FALSE, digitalSignature (+keyEncipherment for RSA),
//                 EKU serverAuth, subjectAltName allowed by the issuer's name constraints
// and, for a leaf issued from a request (profiles/issuance), the exact values the issuer
// promised: serial, validity, subject, key, names, URLs and policies (LeafExpectations).
// CRLs have their own entry point. Every finding is returned; callers refuse on any.
#pragma once

#include <openssl/x509.h>

#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"
#include "pki/serial.h"

namespace ca::pki {

enum class CertRole { kRoot, kIntermediate, kOcspSigner, kLeaf };

std::string_view CertRoleName(CertRole role);  // "root", "intermediate", "ocsp-signer", "leaf"

struct LintFinding {
  std::string rule;    // stable id: "validity", "basic_constraints", "subject_alt_name", …
  std::string detail;  // what is wrong, one line
};

// What a subscriber certificate issued from a request must hold exactly.
struct LeafExpectations {
  Serial serial;  // the reserved serial
  std::chrono::sys_seconds not_before{};
  std::chrono::sys_seconds not_after{};
  std::chrono::seconds max_validity{0};              // inclusive length (RFC 5280 §4.1.2.5)
  std::vector<std::pair<int, std::string>> subject;  // (NID, value) in order; C PrintableString
  const EVP_PKEY* public_key = nullptr;              // the CSR's key
  std::function<Status(const EVP_PKEY*)> check_key;  // the profile's key parameters
  std::function<Status(const std::vector<std::string>&)> check_names;  // the profile's name rules
  std::vector<std::string> dns_names;                                  // the SAN, in order
  int signature_nid = 0;
  // ocsp_url empty: the AIA holds caIssuers only; crl_url empty: no cRLDistributionPoints (a
  // profile without OCSP, a short-lived profile without CRL).
  std::string ocsp_url, ca_issuers_url, crl_url;
  std::vector<std::string> policy_oids;
};

struct LintOptions {
  bool staging = false;                      // the subject CN must contain "TEST" (CA-8, ANSSI R54)
  const LeafExpectations* expect = nullptr;  // leaf only
};

// A signed certificate (`issuer` is the certificate itself for a root): the role's rules, plus the
// outer signature algorithm equals the TBS one and the signature verifies under the issuer's key.
std::vector<LintFinding> LintCertificate(const X509* cert, const X509* issuer, CertRole role,
                                         const LintOptions& options = {});
std::vector<LintFinding> LintCertificateDer(std::span<const uint8_t> der, const X509* issuer,
                                            CertRole role, const LintOptions& options = {});
// An unsigned certificate from BuildUnsignedCertificate: encoded by OpenSSL, parsed back and
// linted (no signature yet).
std::vector<LintFinding> LintTbsFindings(const X509* tbs, const X509* issuer, CertRole role,
                                         const LintOptions& options = {});

// What LintTbs passed: the DER it linted, the certificate OpenSSL decoded from exactly those bytes
// and that certificate's TBSCertificate encoding. The signer signs `certificate` (so what it signs
// is the linted TBS) and may record `der`.
struct LintedTbs {
  ossl::X509Ptr certificate;
  ossl::Bytes der;
  ossl::Bytes tbs_der;
};
// LintTbsFindings as a value, or kInternal "lint: <rule>: <detail>; …" listing every finding.
Result<LintedTbs> LintTbs(const X509* tbs, const X509* issuer, CertRole role,
                          const LintOptions& options = {});
// After signing `linted.certificate`: its TBSCertificate is still byte for byte the linted one and
// the outer signature algorithm equals the TBS one (kInternal otherwise), so every rule LintTbs
// checked holds without decoding it again. The caller verifies the signature.
Status CheckSignedAsLinted(const X509* certificate, const LintedTbs& linted);

// A CRL issued by `issuer`: v2, issuer name, signature, nextUpdate within 400 days, CRL number,
// AKI, the issuer may sign CRLs.
std::vector<LintFinding> LintCrl(const X509_CRL* crl, const X509* issuer);

// The issuer's nameConstraints (when it has some) against a certificate's names, as
// X509_verify_cert checks them. kInvalidArgument with OpenSSL's verify error text otherwise.
Status CheckNameConstraints(const X509* cert, const X509* issuer);

// "lint: <rule>: <detail>; …"; with `what`: "lint: <what>: <rule>: <detail>; …".
std::string FormatFindings(const std::vector<LintFinding>& findings, std::string_view what = "");
// Ok when there is no finding, kInternal FormatFindings(findings, what) otherwise.
Status FindingsStatus(const std::vector<LintFinding>& findings, std::string_view what = "");

}  // namespace ca::pki
