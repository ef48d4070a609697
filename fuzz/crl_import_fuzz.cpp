// CRL import (crl_ocsp/publish_guard.h): the last check before a CRL replaces the published one,
// fed by ca-status-publish with a file from the operator's side. The input is checked as is
// (parsing, issuer, signature) and, when it decodes, once more re-signed by the issuer's key so
// that mutations reach the number, time and dropped-entry rules, as the new CRL and as the current
// one. Property: a CRL the guard accepts passes InspectCrl with the same fields.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include "common/encoding.h"
#include "crl_ocsp/publish_guard.h"
#include "crl_ocsp/testing/test_pki.h"
#include "fuzz/seeds.h"
#include "pki/crl_builder.h"

namespace ca::fuzz {
namespace {

using namespace std::chrono_literals;

const pki::Time kNow{std::chrono::seconds(1'760'000'000)};  // fixed: runs are reproducible

struct Fixture {
  crl_ocsp::testing::Pki pki = crl_ocsp::testing::MakePki();
  std::vector<pki::CrlEntry> entries = {
      {*pki::Serial::FromHex("0a"), kNow - 48h, pki::RevocationReason::kKeyCompromise, kNow - 72h},
      {*pki::Serial::FromHex("0b"), kNow - 48h, pki::RevocationReason::kUnspecified, std::nullopt}};
  crl_ocsp::NotAfterBySerial not_after = {{"0a", kNow - 24h}, {"0b", kNow + 24h * 30}};

  Bytes Crl(uint64_t number, pki::Time this_update, std::span<const pki::CrlEntry> list) const {
    return *pki::BuildCrl({pki.ca.get(), pki.ca_key.get(), number, this_update, this_update + 168h, list});
  }
};

const Fixture& F() {
  static const Fixture fixture;
  return fixture;
}

Bytes Resigned(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  ossl::X509Crl crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl || X509_CRL_sign(crl.get(), F().pki.ca_key.get(), EVP_sha256()) <= 0) return {};
  int len = i2d_X509_CRL(crl.get(), nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<size_t>(len));
  unsigned char* q = out.data();
  i2d_X509_CRL(crl.get(), &q);
  return out;
}

void Check(std::span<const uint8_t> der, std::span<const uint8_t> current) {
  const X509* issuer = F().pki.ca.get();
  auto accepted = crl_ocsp::CheckCrlPublish(der, current, issuer, F().not_after);
  (void)crl_ocsp::CheckCrlPublish(der, std::nullopt, issuer, F().not_after);
  (void)crl_ocsp::CheckCrlPublish(current, der, issuer, F().not_after);
  if (accepted) {
    auto info = crl_ocsp::InspectCrl(der, issuer);
    if (!info || info->number != accepted->number || info->entries != accepted->entries) std::abort();
  }
}

void WriteSeeds(const SeedWriter& out) {
  out.Add("empty", F().Crl(6, kNow, {}));
  out.Add("two_entries", F().Crl(6, kNow, F().entries));
  out.Add("one_entry", F().Crl(7, kNow + 1h, std::span(F().entries).first(1)));
}

}  // namespace
}  // namespace ca::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ca::fuzz::MaybeWriteSeeds(ca::fuzz::WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The published CRL: number 5, both entries.
  static const ca::Bytes current =
      ca::fuzz::F().Crl(5, ca::fuzz::kNow - std::chrono::hours(1), ca::fuzz::F().entries);
  std::span<const uint8_t> der(data, size);
  ca::fuzz::Check(der, current);
  ca::Bytes resigned = ca::fuzz::Resigned(der);
  if (!resigned.empty()) ca::fuzz::Check(resigned, current);
  return 0;
}
