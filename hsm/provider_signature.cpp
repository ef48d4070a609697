// SIGNATURE of the hsm-seam provider: hashing with the default provider's digests, the private-key
// operation by HsmKey::SignDigest, verification with the software public key.
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/proverr.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include <cstring>
#include <mutex>
#include <optional>
#include <utility>

#include "hsm/key_impl.h"
#include "hsm/provider_impl.h"

namespace ca::hsm::seam {
namespace {

// ---------------------------------------------------------------------------------------------
// Signatures

struct SigCtx {
  bool ec = false;
  SeamKey* key = nullptr;  // owned by the EVP_PKEY, which outlives the operation
  EVP_MD* md = nullptr;    // owned (fetched from the default provider)
  EVP_MD_CTX* mdctx = nullptr;
  int pad = RSA_PKCS1_PADDING;
  int saltlen = RSA_PSS_SALTLEN_DIGEST;
  std::string mgf1;  // empty: same as md

  ~SigCtx() {
    EVP_MD_free(md);
    EVP_MD_CTX_free(mdctx);
  }
};

template <bool kEc>
void* SigNew(void*, const char*) {
  auto* c = new (std::nothrow) SigCtx;
  if (c != nullptr) c->ec = kEc;
  return c;
}

void SigFree(void* ctx) {
  delete static_cast<SigCtx*>(ctx);
}

void* SigDup(void* ctx) {
  auto* c = static_cast<SigCtx*>(ctx);
  auto* d = new (std::nothrow) SigCtx;
  if (d == nullptr) return nullptr;
  d->ec = c->ec;
  d->key = c->key;
  d->pad = c->pad;
  d->saltlen = c->saltlen;
  d->mgf1 = c->mgf1;
  if (c->md != nullptr) {
    if (!EVP_MD_up_ref(c->md)) {
      delete d;
      return nullptr;
    }
    d->md = c->md;
  }
  if (c->mdctx != nullptr) {
    d->mdctx = EVP_MD_CTX_new();
    if (d->mdctx == nullptr || !EVP_MD_CTX_copy_ex(d->mdctx, c->mdctx)) {
      delete d;
      return nullptr;
    }
  }
  return d;
}

int SetDigest(SigCtx* c, const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, "provider=default");
  if (md == nullptr) {
    RaiseError(PROV_R_INVALID_DIGEST, std::string("unknown digest ") + name);
    return 0;
  }
  int nid = EVP_MD_get_type(md);
  bool ok = nid == NID_sha256 || nid == NID_sha384 || (nid == NID_sha512 && !c->ec);
  if (!ok) {
    EVP_MD_free(md);
    RaiseError(PROV_R_DIGEST_NOT_ALLOWED, std::string("digest ") + name +
                                              " is not supported for HSM " +
                                              (c->ec ? "ECDSA" : "RSA") + " signatures");
    return 0;
  }
  EVP_MD_free(c->md);
  c->md = md;
  return 1;
}

// The scheme for the context's key, digest and padding; false (error raised) if unsupported.
bool CurrentScheme(const SigCtx* c, SignScheme* out) {
  if (c->md == nullptr) {
    RaiseError(PROV_R_MISSING_MESSAGE_DIGEST, "no digest set for the HSM signature");
    return false;
  }
  int nid = EVP_MD_get_type(c->md);
  if (c->ec) {
    *out = nid == NID_sha384 ? SignScheme::kEcdsaSha384 : SignScheme::kEcdsaSha256;
    return true;
  }
  if (c->pad == RSA_PKCS1_PSS_PADDING) {
    int mdlen = EVP_MD_get_size(c->md);
    if (c->saltlen != RSA_PSS_SALTLEN_DIGEST && c->saltlen != mdlen) {
      RaiseError(PROV_R_INVALID_SALT_LENGTH,
                 "HSM RSA-PSS signatures use salt length = digest length");
      return false;
    }
    if (!c->mgf1.empty() && !EVP_MD_is_a(c->md, c->mgf1.c_str())) {
      RaiseError(PROV_R_INVALID_DIGEST,
                 "HSM RSA-PSS signatures use MGF1 with the signature digest");
      return false;
    }
    *out = nid == NID_sha256   ? SignScheme::kRsaPssSha256
           : nid == NID_sha384 ? SignScheme::kRsaPssSha384
                               : SignScheme::kRsaPssSha512;
    return true;
  }
  if (c->pad != RSA_PKCS1_PADDING) {
    RaiseError(PROV_R_ILLEGAL_OR_UNSUPPORTED_PADDING_MODE,
               "HSM RSA signatures: PKCS#1 v1.5 or PSS");
    return false;
  }
  *out = nid == NID_sha256   ? SignScheme::kRsaPkcs1Sha256
         : nid == NID_sha384 ? SignScheme::kRsaPkcs1Sha384
                             : SignScheme::kRsaPkcs1Sha512;
  return true;
}

int SigSetCtxParams(void* ctx, const OSSL_PARAM params[]);

int InitCommon(SigCtx* c, void* provkey, const OSSL_PARAM params[], bool sign) {
  auto* k = static_cast<SeamKey*>(provkey);
  if (k == nullptr || k->pub == nullptr || k->ec != c->ec) {
    RaiseError(PROV_R_NO_KEY_SET, "no HSM key for the signature");
    return 0;
  }
  if (sign && k->hsm == nullptr) {
    RaiseError(PROV_R_NOT_A_PRIVATE_KEY, "this key has no HSM private key");
    return 0;
  }
  c->key = k;
  c->pad = RSA_PKCS1_PADDING;
  c->saltlen = RSA_PSS_SALTLEN_DIGEST;
  c->mgf1.clear();
  return SigSetCtxParams(c, params);
}

int SigSignInit(void* ctx, void* provkey, const OSSL_PARAM params[]) {
  return InitCommon(static_cast<SigCtx*>(ctx), provkey, params, true);
}
int SigVerifyInit(void* ctx, void* provkey, const OSSL_PARAM params[]) {
  return InitCommon(static_cast<SigCtx*>(ctx), provkey, params, false);
}

size_t MaxSize(const SigCtx* c) {
  return static_cast<size_t>(EVP_PKEY_get_size(c->key->pub.get()));
}

int SignDigestInto(SigCtx* c, unsigned char* sig, size_t* siglen, size_t sigsize,
                   const unsigned char* digest, size_t digest_len) {
  SignScheme scheme;
  if (!CurrentScheme(c, &scheme)) return 0;
  auto signature = c->key->hsm->SignDigest(scheme, std::span<const uint8_t>(digest, digest_len));
  if (!signature) {
    t_last_seam_error = signature.error();
    RaiseError(PROV_R_FAILED_TO_SIGN, signature.error().ToString());
    return 0;
  }
  if (signature->size() > sigsize) {
    RaiseError(PROV_R_INVALID_SIGNATURE_SIZE, "signature buffer too small");
    return 0;
  }
  std::memcpy(sig, signature->data(), signature->size());
  *siglen = signature->size();
  return 1;
}

int VerifyDigestOf(SigCtx* c, const unsigned char* sig, size_t siglen, const unsigned char* digest,
                   size_t digest_len) {
  SignScheme scheme;
  if (!CurrentScheme(c, &scheme)) return 0;
  if (digest_len != DigestLength(scheme)) return 0;
  auto st =
      VerifyDigestSignature(c->key->pub.get(), scheme, std::span<const uint8_t>(digest, digest_len),
                            std::span<const uint8_t>(sig, siglen));
  return st ? 1 : 0;
}

// Pre-hashed input (EVP_PKEY_sign): the digest must be set (EVP_PKEY_CTX_set_signature_md).
int SigSign(void* ctx, unsigned char* sig, size_t* siglen, size_t sigsize, const unsigned char* tbs,
            size_t tbslen) {
  auto* c = static_cast<SigCtx*>(ctx);
  if (sig == nullptr) {
    *siglen = MaxSize(c);
    return 1;
  }
  return SignDigestInto(c, sig, siglen, sigsize, tbs, tbslen);
}

int SigVerify(void* ctx, const unsigned char* sig, size_t siglen, const unsigned char* tbs,
              size_t tbslen) {
  return VerifyDigestOf(static_cast<SigCtx*>(ctx), sig, siglen, tbs, tbslen);
}

int DigestInitCommon(void* ctx, const char* mdname, void* provkey, const OSSL_PARAM params[],
                     bool sign) {
  auto* c = static_cast<SigCtx*>(ctx);
  if (!InitCommon(c, provkey, nullptr, sign)) return 0;
  const char* name = mdname;
  if (name == nullptr || *name == '\0') {
    name =
        (c->key->hsm != nullptr && c->key->hsm->type() == KeyType::kEcP384) ? "SHA384" : "SHA256";
  }
  if (!SetDigest(c, name)) return 0;
  if (c->mdctx == nullptr) c->mdctx = EVP_MD_CTX_new();
  if (c->mdctx == nullptr || !EVP_DigestInit_ex2(c->mdctx, c->md, nullptr)) return 0;
  return SigSetCtxParams(c, params);
}

int SigDigestSignInit(void* ctx, const char* mdname, void* provkey, const OSSL_PARAM params[]) {
  return DigestInitCommon(ctx, mdname, provkey, params, true);
}
int SigDigestVerifyInit(void* ctx, const char* mdname, void* provkey, const OSSL_PARAM params[]) {
  return DigestInitCommon(ctx, mdname, provkey, params, false);
}

int SigDigestUpdate(void* ctx, const unsigned char* data, size_t datalen) {
  auto* c = static_cast<SigCtx*>(ctx);
  return c->mdctx != nullptr && EVP_DigestUpdate(c->mdctx, data, datalen) ? 1 : 0;
}

int SigDigestSignFinal(void* ctx, unsigned char* sig, size_t* siglen, size_t sigsize) {
  auto* c = static_cast<SigCtx*>(ctx);
  if (sig == nullptr) {
    *siglen = MaxSize(c);
    return 1;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (c->mdctx == nullptr || !EVP_DigestFinal_ex(c->mdctx, digest, &len)) return 0;
  return SignDigestInto(c, sig, siglen, sigsize, digest, len);
}

int SigDigestVerifyFinal(void* ctx, const unsigned char* sig, size_t siglen) {
  auto* c = static_cast<SigCtx*>(ctx);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (c->mdctx == nullptr || !EVP_DigestFinal_ex(c->mdctx, digest, &len)) return 0;
  return VerifyDigestOf(c, sig, siglen, digest, len);
}

int SigDigestSign(void* ctx, unsigned char* sig, size_t* siglen, size_t sigsize,
                  const unsigned char* tbs, size_t tbslen) {
  auto* c = static_cast<SigCtx*>(ctx);
  if (sig == nullptr) {
    *siglen = MaxSize(c);
    return 1;
  }
  if (!SigDigestUpdate(ctx, tbs, tbslen)) return 0;
  return SigDigestSignFinal(ctx, sig, siglen, sigsize);
}

int SigDigestVerify(void* ctx, const unsigned char* sig, size_t siglen, const unsigned char* tbs,
                    size_t tbslen) {
  if (!SigDigestUpdate(ctx, tbs, tbslen)) return 0;
  return SigDigestVerifyFinal(ctx, sig, siglen);
}

// The AlgorithmIdentifier of the signature, DER, built by OpenSSL (X509_ALGOR, RSA_PSS_PARAMS).
Result<Bytes> AlgorithmId(const SigCtx* c) {
  SignScheme scheme;
  if (!CurrentScheme(c, &scheme)) return Fail(ErrorCode::kInvalidArgument, "no scheme");
  ossl::X509Algor alg(X509_ALGOR_new());
  if (!alg) return ossl::CryptoFail("X509_ALGOR");
  int md_nid = EVP_MD_get_type(c->md);
  if (c->ec) {
    int nid = md_nid == NID_sha384 ? NID_ecdsa_with_SHA384 : NID_ecdsa_with_SHA256;
    if (!X509_ALGOR_set0(alg.get(), OBJ_nid2obj(nid), V_ASN1_UNDEF, nullptr)) {
      return ossl::CryptoFail("X509_ALGOR");
    }
  } else if (c->pad == RSA_PKCS1_PSS_PADDING) {
    using PssParams = ossl::Owned<RSA_PSS_PARAMS, RSA_PSS_PARAMS_free>;
    PssParams pss(RSA_PSS_PARAMS_new());
    ossl::X509Algor mgf_hash(X509_ALGOR_new());
    if (!pss || !mgf_hash) return ossl::CryptoFail("RSA_PSS_PARAMS");
    pss->hashAlgorithm = X509_ALGOR_new();
    pss->maskGenAlgorithm = X509_ALGOR_new();
    pss->saltLength = ASN1_INTEGER_new();
    if (pss->hashAlgorithm == nullptr || pss->maskGenAlgorithm == nullptr ||
        pss->saltLength == nullptr) {
      return ossl::CryptoFail("RSA_PSS_PARAMS");
    }
    X509_ALGOR_set_md(pss->hashAlgorithm, c->md);
    X509_ALGOR_set_md(mgf_hash.get(), c->md);
    ASN1_STRING* mgf_params = ASN1_item_pack(mgf_hash.get(), ASN1_ITEM_rptr(X509_ALGOR), nullptr);
    if (mgf_params == nullptr) return ossl::CryptoFail("MGF1 parameters");
    if (!X509_ALGOR_set0(pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE,
                         mgf_params)) {
      ASN1_STRING_free(mgf_params);
      return ossl::CryptoFail("MGF1 parameters");
    }
    if (!ASN1_INTEGER_set(pss->saltLength, EVP_MD_get_size(c->md)))
      return ossl::CryptoFail("salt length");
    ASN1_STRING* pss_der = ASN1_item_pack(pss.get(), ASN1_ITEM_rptr(RSA_PSS_PARAMS), nullptr);
    if (pss_der == nullptr) return ossl::CryptoFail("RSA_PSS_PARAMS");
    if (!X509_ALGOR_set0(alg.get(), OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, pss_der)) {
      ASN1_STRING_free(pss_der);
      return ossl::CryptoFail("RSA_PSS_PARAMS");
    }
  } else {
    int nid = md_nid == NID_sha256   ? NID_sha256WithRSAEncryption
              : md_nid == NID_sha384 ? NID_sha384WithRSAEncryption
                                     : NID_sha512WithRSAEncryption;
    if (!X509_ALGOR_set0(alg.get(), OBJ_nid2obj(nid), V_ASN1_NULL, nullptr)) {
      return ossl::CryptoFail("X509_ALGOR");
    }
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_ALGOR(alg.get(), &der);
  if (len <= 0) return ossl::CryptoFail("AlgorithmIdentifier");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

int SigGetCtxParams(void* ctx, OSSL_PARAM params[]) {
  auto* c = static_cast<SigCtx*>(ctx);
  if (OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID)) {
    auto der = AlgorithmId(c);
    if (!der || !OSSL_PARAM_set_octet_string(p, der->data(), der->size())) return 0;
  }
  if (OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) {
    if (c->md == nullptr || !OSSL_PARAM_set_utf8_string(p, EVP_MD_get0_name(c->md))) return 0;
  }
  if (OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
      p != nullptr && !c->ec) {
    if (p->data_type == OSSL_PARAM_INTEGER) {
      if (!OSSL_PARAM_set_int(p, c->pad)) return 0;
    } else if (!OSSL_PARAM_set_utf8_string(p, c->pad == RSA_PKCS1_PSS_PADDING
                                                  ? OSSL_PKEY_RSA_PAD_MODE_PSS
                                                  : OSSL_PKEY_RSA_PAD_MODE_PKCSV15)) {
      return 0;
    }
  }
  return 1;
}

int SigSetCtxParams(void* ctx, const OSSL_PARAM params[]) {
  auto* c = static_cast<SigCtx*>(ctx);
  if (params == nullptr) return 1;
  if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) {
    const char* name = nullptr;
    if (!OSSL_PARAM_get_utf8_string_ptr(p, &name)) return 0;
    if (c->mdctx != nullptr && c->md != nullptr && !EVP_MD_is_a(c->md, name)) {
      RaiseError(PROV_R_DIGEST_NOT_ALLOWED,
                 "the digest cannot change during a digest-sign operation");
      return 0;
    }
    if (!SetDigest(c, name)) return 0;
  }
  if (c->ec) return 1;
  if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) {
    int pad = 0;
    if (p->data_type == OSSL_PARAM_INTEGER) {
      if (!OSSL_PARAM_get_int(p, &pad)) return 0;
    } else {
      const char* s = nullptr;
      if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
      pad = std::strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0       ? RSA_PKCS1_PSS_PADDING
            : std::strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0 ? RSA_PKCS1_PADDING
                                                                  : -1;
    }
    if (pad != RSA_PKCS1_PADDING && pad != RSA_PKCS1_PSS_PADDING) {
      RaiseError(PROV_R_ILLEGAL_OR_UNSUPPORTED_PADDING_MODE,
                 "HSM RSA signatures: PKCS#1 v1.5 or PSS");
      return 0;
    }
    c->pad = pad;
  }
  if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) {
    if (p->data_type == OSSL_PARAM_INTEGER) {
      if (!OSSL_PARAM_get_int(p, &c->saltlen)) return 0;
    } else {
      const char* s = nullptr;
      if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
      if (std::strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0) {
        c->saltlen = RSA_PSS_SALTLEN_DIGEST;
      } else {
        c->saltlen = std::atoi(s);
        if (c->saltlen <= 0) {
          RaiseError(PROV_R_INVALID_SALT_LENGTH,
                     "HSM RSA-PSS signatures use salt length = digest length");
          return 0;
        }
      }
    }
  }
  if (const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) {
    const char* name = nullptr;
    if (!OSSL_PARAM_get_utf8_string_ptr(p, &name)) return 0;
    c->mgf1 = name;
  }
  return 1;
}

const OSSL_PARAM kGettableCtx[] = {
    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
    OSSL_PARAM_END,
};
const OSSL_PARAM kSettableCtx[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, nullptr, 0),
    OSSL_PARAM_END,
};
const OSSL_PARAM* SigGettableCtx(void*, void*) {
  return kGettableCtx;
}
const OSSL_PARAM* SigSettableCtx(void*, void*) {
  return kSettableCtx;
}

}  // namespace

#define CA_SIGNATURE_DISPATCH(name, ec)                                     \
  const OSSL_DISPATCH name[] = {                                            \
      {OSSL_FUNC_SIGNATURE_NEWCTX, Fn(&SigNew<ec>)},                        \
      {OSSL_FUNC_SIGNATURE_FREECTX, Fn(&SigFree)},                          \
      {OSSL_FUNC_SIGNATURE_DUPCTX, Fn(&SigDup)},                            \
      {OSSL_FUNC_SIGNATURE_SIGN_INIT, Fn(&SigSignInit)},                    \
      {OSSL_FUNC_SIGNATURE_SIGN, Fn(&SigSign)},                             \
      {OSSL_FUNC_SIGNATURE_VERIFY_INIT, Fn(&SigVerifyInit)},                \
      {OSSL_FUNC_SIGNATURE_VERIFY, Fn(&SigVerify)},                         \
      {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, Fn(&SigDigestSignInit)},       \
      {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, Fn(&SigDigestUpdate)},       \
      {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, Fn(&SigDigestSignFinal)},     \
      {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, Fn(&SigDigestSign)},                \
      {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, Fn(&SigDigestVerifyInit)},   \
      {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, Fn(&SigDigestUpdate)},     \
      {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, Fn(&SigDigestVerifyFinal)}, \
      {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY, Fn(&SigDigestVerify)},            \
      {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, Fn(&SigGetCtxParams)},           \
      {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, Fn(&SigGettableCtx)},       \
      {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, Fn(&SigSetCtxParams)},           \
      {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, Fn(&SigSettableCtx)},       \
      {0, nullptr},                                                         \
  }
CA_SIGNATURE_DISPATCH(kRsaSignature, false);
CA_SIGNATURE_DISPATCH(kEcdsaSignature, true);
#undef CA_SIGNATURE_DISPATCH

}  // namespace ca::hsm::seam
