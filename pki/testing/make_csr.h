// Test-only: CSRs of any shape (several CNs, SAN entries of any type, a second SAN extension), for
// the tests of every CSR reader's callers.
#pragma once

#include <openssl/evp.h>

#include <optional>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"

namespace ca::pki::testing {

struct CsrShape {
  std::vector<std::string> cns;                 // subject CNs, in order
  std::optional<std::vector<std::string>> san;  // "DNS:x", "IP:192.0.2.1"; nullopt: no extension
  bool second_san_extension = false;            // the SAN extension twice
};

// A P-256 key shared by the tests of one process.
const EVP_PKEY* TestEcKey();
// The CSR of `shape`, signed by `key`, DER.
Result<ossl::Bytes> MakeCsrDer(const CsrShape& shape, const EVP_PKEY* key = TestEcKey());

}  // namespace ca::pki::testing
