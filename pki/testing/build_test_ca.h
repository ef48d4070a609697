// Test-only: software keys and a root / intermediate / OCSP signer / leaf made with the pki
// certificate builder, shaped as each role of pki/lint.h expects.
#pragma once

#include <string>
#include <vector>

#include "common/openssl.h"
#include "pki/cert_builder.h"

namespace ca::pki::testing {

ossl::Pkey MakeEcKey(const char* curve = "P-256");
ossl::Pkey MakeRsaKey(int bits);
ossl::Asn1Integer SerialOf(size_t octets);  // positive, exactly `octets` long

struct TestCa {
  ossl::Pkey root_key, intermediate_key, ocsp_key, leaf_key;
  ossl::X509Ptr root, intermediate, ocsp, leaf;
  Time now{};
};
// P-384 root, RSA-3072 intermediate (name constraints on example.test), P-256 OCSP signer and a
// P-256 leaf for www.example.test. Built once per process.
const TestCa& GetTestCa();

// The descriptions the CA above was made from, for tests that change one thing.
CertDescription RootDescription(const TestCa& ca, const X509_NAME* subject,
                                const ASN1_INTEGER* serial);
CertDescription LeafDescription(const TestCa& ca, const X509_NAME* subject,
                                const ASN1_INTEGER* serial);

}  // namespace ca::pki::testing
