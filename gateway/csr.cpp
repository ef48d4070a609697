#include "gateway/csr.h"

#include <openssl/x509v3.h>

#include <algorithm>
#include <set>

#include "common/encoding.h"

namespace ca::gateway {

namespace {
void FreeExts(STACK_OF(X509_EXTENSION)* s) { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
using Exts = ossl::Owned<STACK_OF(X509_EXTENSION), FreeExts>;
std::unexpected<Problem> BadCsr(std::string detail) {
  return std::unexpected(MakeProblem(ProblemKind::kBadCsr, std::move(detail)));
}
}  // namespace

Result<std::vector<std::string>> CsrNames(const X509_REQ* csr) {
  std::set<std::string> names;
  const X509_NAME* subject = X509_REQ_get_subject_name(csr);
  int idx = -1;
  while ((idx = X509_NAME_get_index_by_NID(subject, NID_commonName, idx)) >= 0) {
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) return ossl::CryptoFail("CSR common name");
    names.insert(AsciiLower(std::string_view(reinterpret_cast<char*>(utf8), static_cast<size_t>(len))));
    OPENSSL_free(utf8);
  }
  Exts exts(X509_REQ_get_extensions(const_cast<X509_REQ*>(csr)));
  if (exts) {
    ossl::GeneralNames san(static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr)));
    if (san) {
      for (int i = 0; i < sk_GENERAL_NAME_num(san.get()); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(san.get(), i);
        if (gn->type != GEN_DNS) return Fail(ErrorCode::kInvalidArgument, "the CSR has a subjectAltName that is not a dNSName");
        const ASN1_IA5STRING* s = gn->d.dNSName;
        names.insert(AsciiLower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                       static_cast<size_t>(ASN1_STRING_length(s)))));
      }
    }
  }
  return std::vector<std::string>(names.begin(), names.end());
}

ProblemOr<ossl::X509Req> CheckCsr(std::span<const uint8_t> der, const std::vector<std::string>& order_names) {
  auto csr = ossl::CsrFromDer(der);
  if (!csr) return BadCsr("the CSR is not a DER PKCS#10 request");
  EVP_PKEY* key = X509_REQ_get0_pubkey(csr->get());
  if (key == nullptr) return BadCsr("the CSR has no usable public key");
  if (X509_REQ_verify(csr->get(), key) != 1) {
    ossl::DrainErrors();
    return BadCsr("BAD_SIGNATURE: the CSR signature does not verify");
  }
  if (!EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_get_bits(key) != 3072)
    return BadCsr(std::string("the certificate key must be RSA 3072, got ") +
                  (EVP_PKEY_is_a(key, "RSA") ? "RSA " + std::to_string(EVP_PKEY_get_bits(key))
                                              : std::string(EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "unknown")));
  auto names = CsrNames(csr->get());
  if (!names) return BadCsr(names.error().message);
  std::set<std::string> want;
  for (const auto& n : order_names) want.insert(AsciiLower(n));
  std::set<std::string> got(names->begin(), names->end());
  if (got != want) {
    std::string detail = "the CSR names differ from the order's:";
    for (const auto& n : got)
      if (!want.contains(n)) detail += " unexpected " + n + ";";
    for (const auto& n : want)
      if (!got.contains(n)) detail += " missing " + n + ";";
    detail.pop_back();
    return BadCsr(detail);
  }
  return std::move(*csr);
}

}  // namespace ca::gateway
