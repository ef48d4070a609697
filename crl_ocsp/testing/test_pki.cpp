#include "crl_ocsp/testing/test_pki.h"

#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <stdexcept>

namespace ca::crl_ocsp::testing {

namespace {
void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + ossl::DrainErrors());
}
void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
  ossl::X509Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  Check(ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1, "add extension");
}
}  // namespace

ossl::Pkey MakeEcKey() {
  ossl::Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  Check(key != nullptr, "EC keygen");
  return key;
}

ossl::Pkey MakeRsaKey(int bits) {
  ossl::Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  Check(key != nullptr, "RSA keygen");
  return key;
}

ossl::X509Ptr MakeCert(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer_cert,
                       EVP_PKEY* issuer_key) {
  ossl::X509Ptr cert(X509_new());
  Check(cert && X509_set_version(cert.get(), X509_VERSION_3) == 1, "new cert");
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), spec.serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after_days * 86400L);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(),
                       issuer_cert != nullptr ? X509_get_subject_name(issuer_cert) : name);
  Check(X509_set_pubkey(cert.get(), subject_key) == 1, "set pubkey");
  AddExt(cert.get(), issuer_cert, NID_subject_key_identifier, "hash");
  if (issuer_cert != nullptr)
    AddExt(cert.get(), issuer_cert, NID_authority_key_identifier, "keyid");
  if (spec.ca) {
    AddExt(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert.get(), issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(cert.get(), issuer_cert, NID_key_usage, "critical,digitalSignature");
  }
  if (spec.ocsp_signer) {
    AddExt(cert.get(), issuer_cert, NID_ext_key_usage, "OCSPSigning");
    AddExt(cert.get(), issuer_cert, NID_id_pkix_OCSP_noCheck, "ignored");
  }
  Check(X509_sign(cert.get(), issuer_key, EVP_sha256()) > 0, "sign cert");
  return cert;
}

Pki MakePki(bool rsa_ca) {
  Pki p;
  p.root_key = MakeEcKey();
  p.ca_key = rsa_ca ? MakeRsaKey(2048) : MakeEcKey();
  p.ocsp_key = MakeEcKey();
  p.root =
      MakeCert({"Test Root", true, false, 1, 3650}, p.root_key.get(), nullptr, p.root_key.get());
  p.ca = MakeCert({"Test Issuing CA", true, false, 2, 1825}, p.ca_key.get(), p.root.get(),
                  p.root_key.get());
  p.ocsp = MakeCert({"Test OCSP Signer", false, true, 3, 365}, p.ocsp_key.get(), p.ca.get(),
                    p.ca_key.get());
  return p;
}

}  // namespace ca::crl_ocsp::testing
