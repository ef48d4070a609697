// The ceremony's certificate lint: parses what was produced and checks the rules of each role
// (extensions present, criticality, path length, key usage, validity, serial size and sign, key
// type, signature under the issuer). Every certificate and CRL the ceremony writes passes it first.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"

namespace ca::ceremony {

enum class CertRole { kRoot, kIntermediate, kOcspSigner, kTlsServer };

std::string_view CertRoleName(CertRole role);

struct LintOptions {
  bool staging = false;  // the CN must contain "TEST" (ANSSI R54)
};

// Problems found, one short sentence each; empty when the certificate passes. `issuer` is the
// certificate itself for a root.
std::vector<std::string> LintCertificate(const X509* cert, const X509* issuer, CertRole role,
                                         const LintOptions& options = {});

// Problems found in a CRL issued by `issuer`.
std::vector<std::string> LintCrl(const X509_CRL* crl, const X509* issuer);

// kInternal "lint: <what>: p1; p2" when there are problems (the ceremony produced a bad object).
Status LintStatus(std::string_view what, const std::vector<std::string>& problems);

}  // namespace ca::ceremony
