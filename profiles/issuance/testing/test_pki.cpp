#include "profiles/issuance/testing/test_pki.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <array>
#include <cstdlib>
#include <stdexcept>

namespace ca::profiles::issuance::testing {

namespace {

ossl::Pkey GenerateRsa(int bits, unsigned exponent) {
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  ossl::Bn e(BN_new());
  BIGNUM* e_raw = e.get();
  EVP_PKEY* key = nullptr;
  if (!ctx || !e || BN_set_word(e_raw, exponent) != 1 || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e_raw) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &key) != 1) {
    throw std::runtime_error("RSA keygen: " + ossl::DrainErrors());
  }
  return ossl::Pkey(key);
}

ossl::Pkey FromData(OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  bool ok = params != nullptr && ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
            EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEYPAIR, params) == 1;
  OSSL_PARAM_free(params);
  if (!ok) throw std::runtime_error("EVP_PKEY_fromdata: " + ossl::DrainErrors());
  return ossl::Pkey(key);
}

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ossl::X509Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) throw std::runtime_error("test CA extension");
}

ossl::X509Ptr MakeCaCert(const char* cn, const EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  ossl::X509Ptr x(X509_new());
  X509_set_version(x.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), issuer == nullptr ? 1 : 2);
  ossl::X509Name name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "C", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("FR"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Test CA Operator"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_subject_name(x.get(), name.get());
  X509_set_issuer_name(x.get(), issuer == nullptr ? name.get() : X509_get_subject_name(issuer));
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600L * 24 * 365 * 5);
  X509_set_pubkey(x.get(), const_cast<EVP_PKEY*>(key));
  X509* signer = issuer == nullptr ? x.get() : issuer;
  AddExt(x.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
  AddExt(x.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExt(x.get(), signer, NID_subject_key_identifier, "hash");
  AddExt(x.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (X509_sign(x.get(), issuer_key, EVP_sha256()) <= 0) throw std::runtime_error("sign test CA");
  return x;
}

}  // namespace

const EVP_PKEY* Rsa3072(int index) {
  static std::array<ossl::Pkey, 4> keys;
  ossl::Pkey& k = keys.at(static_cast<size_t>(index));
  if (!k) k = GenerateRsa(3072, 65537);
  return k.get();
}

const EVP_PKEY* Rsa2048() {
  static ossl::Pkey key = GenerateRsa(2048, 65537);
  return key.get();
}

const EVP_PKEY* Rsa3072Exponent3() {
  static ossl::Pkey key = GenerateRsa(3072, 3);
  return key.get();
}

ossl::Pkey RsaFromPrimes(const BIGNUM* p, const BIGNUM* q) {
  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Bn n(BN_new()), e(BN_new()), d(BN_new()), p1(BN_new()), q1(BN_new()), phi(BN_new());
  BN_mul(n.get(), p, q, ctx.get());
  BN_set_word(e.get(), 65537);
  BN_sub(p1.get(), p, BN_value_one());
  BN_sub(q1.get(), q, BN_value_one());
  BN_mul(phi.get(), p1.get(), q1.get(), ctx.get());
  if (BN_mod_inverse(d.get(), e.get(), phi.get(), ctx.get()) == nullptr) {
    throw std::runtime_error("e not invertible");
  }
  return RsaFromNed(n.get(), d.get());
}

ossl::Pkey RsaFromNed(const BIGNUM* n, const BIGNUM* d) {
  ossl::Owned<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free> bld(OSSL_PARAM_BLD_new());
  ossl::Bn e(BN_new());
  BN_set_word(e.get(), 65537);
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, d);
  return FromData(bld.get());
}

const TestCa& GetTestCa() {
  static TestCa ca = [] {
    TestCa out;
    out.root_key.reset(EVP_EC_gen("P-256"));
    if (!out.root_key) throw std::runtime_error("root key");
    out.root = MakeCaCert("Test Root CA", out.root_key.get(), nullptr, out.root_key.get());
    out.intermediate_key = Rsa3072(0);
    out.intermediate =
        MakeCaCert("Test Issuing CA", out.intermediate_key, out.root.get(), out.root_key.get());
    out.issuer.certificate = out.intermediate.get();
    out.issuer.ocsp_url = "http://ocsp.ca.test";
    out.issuer.ca_issuers_url = "http://ca.test/issuing.der";
    out.issuer.crl_url = "http://crl.ca.test/issuing.crl";
    return out;
  }();
  return ca;
}

ossl::X509Req MakeCsr(const EVP_PKEY* key, const std::optional<std::string>& cn,
                      const std::vector<std::string>& sans) {
  ossl::X509Req req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  if (cn) {
    X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req.get()), NID_commonName, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn->c_str()), -1, -1, 0);
  }
  X509_REQ_set_pubkey(req.get(), const_cast<EVP_PKEY*>(key));
  if (!sans.empty()) {
    ossl::GeneralNames names(GENERAL_NAMES_new());
    for (const auto& s : sans) {
      GENERAL_NAME* gn = GENERAL_NAME_new();
      ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
      ASN1_STRING_set(ia5, s.data(), static_cast<int>(s.size()));
      GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
      sk_GENERAL_NAME_push(names.get(), gn);
    }
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    X509V3_add1_i2d(&exts, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT);
    X509_REQ_add_extensions(req.get(), exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  if (X509_REQ_sign(req.get(), const_cast<EVP_PKEY*>(key), EVP_sha256()) <= 0) {
    throw std::runtime_error("sign CSR: " + ossl::DrainErrors());
  }
  return req;
}

Profile RepoProfile(ProfileId id, Environment env) {
  auto p =
      LoadProfile(id, std::string(CA_PROFILES_DATA_DIR) + "/" + std::string(EnvironmentName(env)));
  if (!p) throw std::runtime_error(p.error().ToString());
  return *p;
}

Organization TestOrganization() {
  return {"Exemple Hôpital SA", "Paris", "FR"};
}

}  // namespace ca::profiles::issuance::testing
