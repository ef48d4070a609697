// HsmKey: a private key on the token, its public half as a software EVP_PKEY, and signing.
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "hsm/key_impl.h"

namespace ca::hsm {
namespace {

using ParamBld = ossl::Owned<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using Params = ossl::Owned<OSSL_PARAM, OSSL_PARAM_free>;
using X509Sig = ossl::Owned<X509_SIG, X509_SIG_free>;
using EcdsaSig = ossl::Owned<ECDSA_SIG, ECDSA_SIG_free>;

Result<ossl::Pkey> PkeyFromData(const char* type, OSSL_PARAM* params) {
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, "provider=default"));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
    return ossl::CryptoFail(std::string("building the ") + type + " public key");
  }
  return ossl::Pkey(pkey);
}

Result<ossl::Pkey> RsaPublicKey(const Bytes& modulus, const Bytes& exponent) {
  ossl::Bn n(BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr));
  ossl::Bn e(BN_bin2bn(exponent.data(), static_cast<int>(exponent.size()), nullptr));
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!n || !e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
    return ossl::CryptoFail("RSA public key parameters");
  }
  Params params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return ossl::CryptoFail("RSA public key parameters");
  return PkeyFromData("RSA", params.get());
}

// CKA_EC_PARAMS is the DER of the curve OID; CKA_EC_POINT is the DER OCTET STRING holding the
// uncompressed point (some modules return the bare point: accepted too).
Result<ossl::Pkey> EcPublicKey(const Bytes& ec_params, const Bytes& ec_point, int* nid_out) {
  const unsigned char* p = ec_params.data();
  ossl::Asn1Object oid(d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(ec_params.size())));
  if (!oid || p != ec_params.data() + ec_params.size()) {
    return Fail(ErrorCode::kCorrupt, "CKA_EC_PARAMS is not a named curve OID");
  }
  int nid = OBJ_obj2nid(oid.get());
  if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1) {
    return Fail(ErrorCode::kFailedPrecondition,
                "unsupported EC curve on the token (nid " + std::to_string(nid) + ")");
  }
  *nid_out = nid;
  Bytes point = ec_point;
  const unsigned char* q = ec_point.data();
  ossl::Asn1OctetString wrapped(
      d2i_ASN1_OCTET_STRING(nullptr, &q, static_cast<long>(ec_point.size())));
  if (wrapped && q == ec_point.data() + ec_point.size()) {
    point.assign(ASN1_STRING_get0_data(wrapped.get()),
                 ASN1_STRING_get0_data(wrapped.get()) + ASN1_STRING_length(wrapped.get()));
  }
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return ossl::CryptoFail("EC public key parameters");
  }
  Params params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return ossl::CryptoFail("EC public key parameters");
  return PkeyFromData("EC", params.get());
}

const EVP_MD* SchemeMd(SignScheme scheme) {
  switch (scheme) {
    case SignScheme::kRsaPkcs1Sha256:
    case SignScheme::kRsaPssSha256:
    case SignScheme::kEcdsaSha256:
      return EVP_sha256();
    case SignScheme::kRsaPkcs1Sha384:
    case SignScheme::kRsaPssSha384:
    case SignScheme::kEcdsaSha384:
      return EVP_sha384();
    case SignScheme::kRsaPkcs1Sha512:
    case SignScheme::kRsaPssSha512:
      return EVP_sha512();
  }
  return EVP_sha256();
}

bool IsPss(SignScheme s) {
  return s == SignScheme::kRsaPssSha256 || s == SignScheme::kRsaPssSha384 ||
         s == SignScheme::kRsaPssSha512;
}
bool IsEcdsa(SignScheme s) {
  return s == SignScheme::kEcdsaSha256 || s == SignScheme::kEcdsaSha384;
}
bool IsRsaType(KeyType t) {
  return t == KeyType::kRsa3072 || t == KeyType::kRsa4096;
}

// PKCS#1 v1.5 signs a DigestInfo; OpenSSL encodes it (X509_SIG is that structure).
Result<Bytes> DigestInfo(const EVP_MD* md, std::span<const uint8_t> digest) {
  X509Sig sig(X509_SIG_new());
  if (!sig) return ossl::CryptoFail("DigestInfo");
  X509_ALGOR* alg = nullptr;
  ASN1_OCTET_STRING* value = nullptr;
  X509_SIG_getm(sig.get(), &alg, &value);
  if (!X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, nullptr) ||
      !ASN1_OCTET_STRING_set(value, digest.data(), static_cast<int>(digest.size()))) {
    return ossl::CryptoFail("DigestInfo");
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_SIG(sig.get(), &der);
  if (len <= 0) return ossl::CryptoFail("DigestInfo");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<Bytes> EcdsaRawToDer(const Bytes& raw) {
  if (raw.empty() || raw.size() % 2 != 0) {
    return Fail(ErrorCode::kHsm,
                "C_Sign: ECDSA signature of odd length " + std::to_string(raw.size()));
  }
  size_t half = raw.size() / 2;
  EcdsaSig sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw.data(), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr);
  if (!sig || r == nullptr || s == nullptr || !ECDSA_SIG_set0(sig.get(), r, s)) {
    BN_free(r);
    BN_free(s);
    return ossl::CryptoFail("ECDSA signature");
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return ossl::CryptoFail("ECDSA signature encoding");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

}  // namespace

Result<LocatedKey> LocateKey(const p11::Session& session, const std::string& label) {
  CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY;
  auto privs =
      CA_TRY(session.Find({p11::AttrOf(CKA_CLASS, priv_class), p11::AttrStr(CKA_LABEL, label)}));
  if (privs.empty()) return Fail(ErrorCode::kNotFound, "no private key labelled '" + label + "'");
  if (privs.size() > 1) {
    return Fail(ErrorCode::kFailedPrecondition,
                std::to_string(privs.size()) + " private keys are labelled '" + label + "'");
  }
  LocatedKey found;
  found.private_handle = privs[0];
  CK_ULONG key_type = CA_TRY(session.GetUlong(found.private_handle, CKA_KEY_TYPE));
  found.id = CA_TRY(session.GetBytes(found.private_handle, CKA_ID));

  CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY;
  auto pubs =
      CA_TRY(session.Find({p11::AttrOf(CKA_CLASS, pub_class), p11::AttrStr(CKA_LABEL, label)}));
  if (pubs.size() > 1) {
    return Fail(ErrorCode::kFailedPrecondition,
                std::to_string(pubs.size()) + " public keys are labelled '" + label + "'");
  }
  if (key_type == CKK_RSA) {
    // An RSA private key carries its modulus and public exponent too.
    CK_OBJECT_HANDLE src = pubs.empty() ? found.private_handle : pubs[0];
    Bytes n = CA_TRY(session.GetBytes(src, CKA_MODULUS));
    Bytes e = CA_TRY(session.GetBytes(src, CKA_PUBLIC_EXPONENT));
    found.public_key = CA_TRY(RsaPublicKey(n, e));
    int bits = EVP_PKEY_get_bits(found.public_key.get());
    if (bits == 3072) {
      found.type = KeyType::kRsa3072;
    } else if (bits == 4096) {
      found.type = KeyType::kRsa4096;
    } else {
      return Fail(ErrorCode::kFailedPrecondition,
                  "key '" + label + "' is RSA-" + std::to_string(bits) + ", not supported");
    }
  } else if (key_type == CKK_EC) {
    if (pubs.empty()) {
      return Fail(ErrorCode::kNotFound, "no public key labelled '" + label + "' for the EC key");
    }
    Bytes params = CA_TRY(session.GetBytes(pubs[0], CKA_EC_PARAMS));
    Bytes point = CA_TRY(session.GetBytes(pubs[0], CKA_EC_POINT));
    int nid = 0;
    found.public_key = CA_TRY(EcPublicKey(params, point, &nid));
    found.type = nid == NID_secp384r1 ? KeyType::kEcP384 : KeyType::kEcP256;
  } else {
    return Fail(ErrorCode::kFailedPrecondition,
                "key '" + label + "' has unsupported CKA_KEY_TYPE " + std::to_string(key_type));
  }
  return found;
}

size_t DigestLength(SignScheme scheme) {
  return static_cast<size_t>(EVP_MD_get_size(SchemeMd(scheme)));
}

const EVP_MD* SchemeDigest(SignScheme scheme) {
  return SchemeMd(scheme);
}

HsmKeyImpl::HsmKeyImpl(std::shared_ptr<TokenImpl> token, std::string label, LocatedKey located,
                       uint64_t generation)
    : token_(std::move(token)),
      label_(std::move(label)),
      id_(std::move(located.id)),
      type_(located.type),
      public_key_(std::move(located.public_key)),
      handle_(located.private_handle),
      handle_generation_(generation) {}

Result<CK_OBJECT_HANDLE> HsmKeyImpl::HandleFor(const Lease& lease) {
  std::lock_guard lock(mu_);
  if (handle_generation_ == lease.generation) return handle_;
  // The sessions were reopened since the handle was found: find the key again by label and make
  // sure it is still the same key before signing anything with it.
  LocatedKey again = CA_TRY(LocateKey(*lease.session, label_));
  if (EVP_PKEY_eq(again.public_key.get(), public_key_.get()) != 1) {
    return Fail(ErrorCode::kFailedPrecondition,
                "key '" + label_ + "' on token '" + token_->label() +
                    "' no longer has the public key recorded when it was first found; refusing "
                    "to sign");
  }
  handle_ = again.private_handle;
  handle_generation_ = lease.generation;
  return handle_;
}

Result<Bytes> HsmKeyImpl::RawSign(const Lease& lease, CK_MECHANISM* mechanism,
                                  std::span<const uint8_t> input) {
  CK_OBJECT_HANDLE handle = CA_TRY(HandleFor(lease));
  CK_FUNCTION_LIST* fn = lease.session->fn();
  CK_SESSION_HANDLE s = lease.session->handle();
  if (CK_RV rv = fn->C_SignInit(s, mechanism, handle); rv != CKR_OK) {
    return CkrFail("C_SignInit", rv);
  }
  Bytes sig(static_cast<size_t>(EVP_PKEY_get_size(public_key_.get())) + 16);
  CK_ULONG len = sig.size();
  CK_RV rv = fn->C_Sign(s, const_cast<CK_BYTE*>(input.data()), static_cast<CK_ULONG>(input.size()),
                        sig.data(), &len);
  if (rv == CKR_BUFFER_TOO_SMALL) {  // the operation stays active: ask again with the right size
    sig.resize(len);
    rv = fn->C_Sign(s, const_cast<CK_BYTE*>(input.data()), static_cast<CK_ULONG>(input.size()),
                    sig.data(), &len);
  }
  if (rv != CKR_OK) return CkrFail("C_Sign", rv);
  sig.resize(len);
  return sig;
}

Status VerifyDigestSignature(const EVP_PKEY* public_key, SignScheme scheme,
                             std::span<const uint8_t> digest, std::span<const uint8_t> signature) {
  ossl::PkeyCtx ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, const_cast<EVP_PKEY*>(public_key), "provider=default"));
  const EVP_MD* md = SchemeMd(scheme);
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), md) <= 0) {
    return ossl::CryptoFail("signature verification setup");
  }
  if (!IsEcdsa(scheme)) {
    if (EVP_PKEY_CTX_set_rsa_padding(
            ctx.get(), IsPss(scheme) ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) <= 0) {
      return ossl::CryptoFail("signature verification setup");
    }
    if (IsPss(scheme) &&
        (EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) <= 0 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) <= 0)) {
      return ossl::CryptoFail("signature verification setup");
    }
  }
  int ok =
      EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), digest.data(), digest.size());
  if (ok != 1) {
    ossl::DrainErrors();
    return Fail(ErrorCode::kCrypto, "the HSM signature does not verify with the key's public key");
  }
  return Ok();
}

Result<Bytes> HsmKeyImpl::SignDigest(SignScheme scheme, std::span<const uint8_t> digest) {
  if (IsEcdsa(scheme) == IsRsaType(type_)) {
    return Fail(ErrorCode::kInvalidArgument, "signature scheme does not fit the " +
                                                 std::string(KeyTypeName(type_)) + " key '" +
                                                 label_ + "'");
  }
  const EVP_MD* md = SchemeMd(scheme);
  if (digest.size() != static_cast<size_t>(EVP_MD_get_size(md))) {
    return Fail(ErrorCode::kInvalidArgument, "digest of " + std::to_string(digest.size()) +
                                                 " bytes for a " +
                                                 std::string(EVP_MD_get0_name(md)) + " signature");
  }
  Bytes input;
  CK_MECHANISM mechanism{CKM_RSA_PKCS, nullptr, 0};
  CK_RSA_PKCS_PSS_PARAMS pss{};
  if (IsEcdsa(scheme)) {
    mechanism.mechanism = CKM_ECDSA;
    input.assign(digest.begin(), digest.end());
  } else if (IsPss(scheme)) {
    mechanism.mechanism = CKM_RSA_PKCS_PSS;
    int nid = EVP_MD_get_type(md);
    pss.hashAlg = nid == NID_sha256 ? CKM_SHA256 : nid == NID_sha384 ? CKM_SHA384 : CKM_SHA512;
    pss.mgf = nid == NID_sha256   ? CKG_MGF1_SHA256
              : nid == NID_sha384 ? CKG_MGF1_SHA384
                                  : CKG_MGF1_SHA512;
    pss.sLen = digest.size();
    mechanism.pParameter = &pss;
    mechanism.ulParameterLen = sizeof pss;
    input.assign(digest.begin(), digest.end());
  } else {
    input = CA_TRY(DigestInfo(md, digest));
  }
  std::function<Result<Bytes>(const Lease&)> op = [&](const Lease& lease) {
    return RawSign(lease, &mechanism, input);
  };
  Bytes sig = CA_TRY(token_->Run(op));
  if (IsEcdsa(scheme)) sig = CA_TRY(EcdsaRawToDer(sig));
  CA_TRY_STATUS(VerifyDigestSignature(public_key_.get(), scheme, digest, sig));
  return sig;
}

Result<Bytes> HsmKeyImpl::Sign(SignScheme scheme, std::span<const uint8_t> data) {
  const EVP_MD* md = SchemeMd(scheme);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_Digest(data.data(), data.size(), digest, &len, md, nullptr)) {
    return ossl::CryptoFail("digest");
  }
  return SignDigest(scheme, std::span<const uint8_t>(digest, len));
}

}  // namespace ca::hsm
