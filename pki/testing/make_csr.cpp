#include "pki/testing/make_csr.h"

#include <openssl/x509v3.h>

namespace ca::pki::testing {

namespace {
void FreeExtensions(STACK_OF(X509_EXTENSION) * s) {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}

Status AddSan(STACK_OF(X509_EXTENSION) * exts, const std::vector<std::string>& entries) {
  std::string value;
  for (const auto& e : entries) value += (value.empty() ? "" : ",") + e;
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, value.c_str());
  if (ext == nullptr) return ossl::CryptoFail("subjectAltName " + value);
  sk_X509_EXTENSION_push(exts, ext);
  return Ok();
}
}  // namespace

const EVP_PKEY* TestEcKey() {
  static EVP_PKEY* key = EVP_EC_gen("P-256");
  return key;
}

Result<ossl::Bytes> MakeCsrDer(const CsrShape& shape, const EVP_PKEY* key) {
  ossl::X509Req req(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  for (const auto& cn : shape.cns) {
    X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  }
  X509_REQ_set_pubkey(req.get(), const_cast<EVP_PKEY*>(key));
  if (shape.san) {
    ossl::Owned<STACK_OF(X509_EXTENSION), FreeExtensions> exts(sk_X509_EXTENSION_new_null());
    CA_TRY_STATUS(AddSan(exts.get(), *shape.san));
    if (shape.second_san_extension) CA_TRY_STATUS(AddSan(exts.get(), *shape.san));
    X509_REQ_add_extensions(req.get(), exts.get());
  }
  if (X509_REQ_sign(req.get(), const_cast<EVP_PKEY*>(key), EVP_sha256()) <= 0) {
    return ossl::CryptoFail("sign CSR");
  }
  return ossl::CsrToDer(req.get());
}

}  // namespace ca::pki::testing
