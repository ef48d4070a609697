// A software PKI for unit tests: root, intermediate, delegated OCSP signer, leaves.
#pragma once

#include <string>

#include "common/openssl.h"
#include "crl_ocsp/revocation.h"

namespace ca::crl_ocsp::testing {

ossl::Pkey MakeEcKey();
ossl::Pkey MakeRsaKey(int bits);

struct CertSpec {
  std::string cn;
  bool ca = false;
  bool ocsp_signer = false;
  long serial = 1;
  long not_after_days = 30;
};
// issuer_cert == nullptr: self-signed with `key`.
ossl::X509Ptr MakeCert(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer_cert,
                       EVP_PKEY* issuer_key);

struct Pki {
  ossl::Pkey root_key, ca_key, ocsp_key;
  ossl::X509Ptr root, ca, ocsp;
};
Pki MakePki(bool rsa_ca = false);

}  // namespace ca::crl_ocsp::testing
