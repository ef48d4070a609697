// Test-only: software keys (generated once per process and reused), a test root + intermediate,
// CSRs, and the repository's profiles.
#pragma once

#include <openssl/x509.h>

#include <optional>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "profiles/issuance/profile.h"
#include "profiles/issuance/tbs.h"

namespace ca::profiles::issuance::testing {

// Cached per process (RSA keygen is slow on shared cores). index 0 is the intermediate's key.
const EVP_PKEY* Rsa3072(int index);
const EVP_PKEY* Rsa2048();
const EVP_PKEY* Rsa3072Exponent3();

// RSA private key from its primes (n = p·q), e = 65537, via EVP_PKEY_fromdata.
ossl::Pkey RsaFromPrimes(const BIGNUM* p, const BIGNUM* q);
// RSA key with modulus n (any factorisation), e = 65537 and private exponent d.
ossl::Pkey RsaFromNed(const BIGNUM* n, const BIGNUM* d);

struct TestCa {
  ossl::Pkey root_key;  // EC P-256
  ossl::X509Ptr root;
  const EVP_PKEY* intermediate_key = nullptr;  // Rsa3072(0)
  ossl::X509Ptr intermediate;
  Issuer issuer;  // intermediate + test URLs
};
const TestCa& GetTestCa();

// A CSR signed by `key`: subject CN if given, SAN dNSNames if any.
ossl::X509Req MakeCsr(const EVP_PKEY* key, const std::optional<std::string>& cn,
                      const std::vector<std::string>& sans);

// The repository's profiles/data/<environment>/<NAME>.json.
Profile RepoProfile(ProfileId id, Environment env = Environment::kProduction);
Organization TestOrganization();  // "Exemple Hôpital SA", "Paris", "FR"

}  // namespace ca::profiles::issuance::testing
