// OCSP requests as the status server receives them: a POST body (DER) or the path of an RFC 5019
// GET. Property: a request that parses without error has one CertID of a coherent size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "common/encoding.h"
#include "crl_ocsp/ocsp_request.h"
#include "crl_ocsp/testing/test_pki.h"
#include "fuzz/seeds.h"

namespace ca::fuzz {
namespace {

void CheckParsed(std::span<const uint8_t> der) {
  crl_ocsp::ParsedOcspRequest parsed = crl_ocsp::ParseOcspRequest(der);
  if (parsed.error) return;
  const crl_ocsp::CertIdQuery& q = parsed.query;
  if (q.hash_len == 0 || q.hash_len > q.name_hash.size() || q.serial_len > q.serial.size()) {
    std::abort();  // an accepted request must have a CertID the lookup can use
  }
}

Bytes Der(OCSP_REQUEST* req) {
  int len = i2d_OCSP_REQUEST(req, nullptr);
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d_OCSP_REQUEST(req, &p);
  return out;
}

// One CertID (SHA-1 and SHA-256), with and without a nonce, and the RFC 5019 GET form.
void WriteSeeds(const SeedWriter& out) {
  crl_ocsp::testing::Pki pki = crl_ocsp::testing::MakePki();
  struct Kind {
    const char* name;
    const EVP_MD* md;
    bool nonce;
  };
  for (const Kind& k : {Kind{"sha1", EVP_sha1(), false}, Kind{"sha256_nonce", EVP_sha256(), true}}) {
    ossl::Asn1Integer serial(ASN1_INTEGER_new());
    ASN1_INTEGER_set(serial.get(), 0x1234567);
    ossl::OcspRequest req(OCSP_REQUEST_new());
    OCSP_request_add0_id(req.get(), OCSP_cert_id_new(k.md, X509_get_subject_name(pki.ca.get()),
                                                     X509_get0_pubkey_bitstr(pki.ca.get()), serial.get()));
    if (k.nonce) OCSP_request_add1_nonce(req.get(), nullptr, 32);
    Bytes der = Der(req.get());
    out.Add(std::string("post_") + k.name, der);
    out.Add(std::string("get_") + k.name, Base64UrlEncode(der));
  }
}

}  // namespace
}  // namespace ca::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ca::fuzz::MaybeWriteSeeds(ca::fuzz::WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  ca::fuzz::CheckParsed(bytes);
  // The same bytes as a GET path: decoding must stay within the size limit.
  auto decoded = ca::crl_ocsp::DecodeOcspGetPath(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (decoded) {
    if (decoded->size() > ca::crl_ocsp::kMaxOcspRequestBytes) std::abort();
    ca::fuzz::CheckParsed(*decoded);
  }
  return 0;
}
