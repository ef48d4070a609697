// Finalize CSRs (pki/csr.h, gateway/csr.h): DER decoding, self-signature, names and key facts, the
// name rules against an order, and the profile's key rule. Each parsable input is also re-signed
// with a key of the harness (its own key replaced) so that mutations get past the signature check
// and reach the name and key rules. Property: the names CsrNames returns satisfy CheckCsrNames.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "fuzz/seeds.h"
#include "gateway/csr.h"
#include "pki/csr.h"
#include "pki/testing/make_csr.h"
#include "profiles/issuance/testing/test_pki.h"

namespace ca::fuzz {
namespace {

const std::vector<std::string> kOrder = {"www.example.org", "example.org"};

const profiles::issuance::Profile& Ssl() {
  static const profiles::issuance::Profile profile =
      profiles::issuance::testing::RepoProfile(profiles::policy::ProfileId::kSsl);
  return profile;
}

void Check(std::span<const uint8_t> der) {
  if (auto facts = pki::ReadCsr(der)) {
    if (auto names = pki::CsrNames(*facts)) {
      if (!pki::CheckCsrNames(*facts, *names)) std::abort();
    }
    (void)pki::CheckCsrNames(*facts, kOrder);
  }
  (void)gateway::CheckCsr(der, kOrder, Ssl());
}

// The input with the harness's key and a fresh signature, or empty if it does not decode.
Bytes Resigned(std::span<const uint8_t> der) {
  static ossl::Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  const unsigned char* p = der.data();
  ossl::X509Req req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req || X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return {};
  }
  int len = i2d_X509_REQ(req.get(), nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<size_t>(len));
  unsigned char* q = out.data();
  i2d_X509_REQ(req.get(), &q);
  return out;
}

void WriteSeeds(const SeedWriter& out) {
  using Shape = pki::testing::CsrShape;
  out.Add("san_and_cn", *pki::testing::MakeCsrDer(
                            Shape{{"www.example.org"}, std::vector<std::string>{"DNS:www.example.org", "DNS:example.org"}}));
  out.Add("cn_only", *pki::testing::MakeCsrDer(Shape{{"example.org"}, std::nullopt}));
  out.Add("ip_san", *pki::testing::MakeCsrDer(Shape{{}, std::vector<std::string>{"IP:192.0.2.1", "DNS:example.org"}}));
  out.Add("two_san_ext", *pki::testing::MakeCsrDer(
                             Shape{{}, std::vector<std::string>{"DNS:example.org"}, /*second_san_extension=*/true}));
  ossl::Pkey rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  out.Add("rsa_san", *pki::testing::MakeCsrDer(
                         Shape{{}, std::vector<std::string>{"DNS:www.example.org", "DNS:example.org"}}, rsa.get()));
}

}  // namespace
}  // namespace ca::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ca::fuzz::MaybeWriteSeeds(ca::fuzz::WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> der(data, size);
  ca::fuzz::Check(der);
  ca::Bytes resigned = ca::fuzz::Resigned(der);
  if (!resigned.empty()) ca::fuzz::Check(resigned);
  return 0;
}
