#include "crl_ocsp/ocsp_response.h"

#include <openssl/asn1t.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

#include <algorithm>

namespace ca::crl_ocsp {

namespace {

Result<Bytes> EncodeResponse(const OCSP_RESPONSE* resp) {
  int len = i2d_OCSP_RESPONSE(resp, nullptr);
  if (len <= 0) return ossl::CryptoFail("encode OCSP response");
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  if (i2d_OCSP_RESPONSE(resp, &p) != len) return ossl::CryptoFail("encode OCSP response");
  return out;
}

Status CheckSigner(const X509* issuer, const OcspSigner& signer) {
  if (signer.key == nullptr || signer.cert == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, "OCSP signer key and certificate are required");
  }
  if (X509_cmp(issuer, signer.cert) == 0) return Ok();  // the CA answers for itself
  if (X509_check_issued(const_cast<X509*>(issuer), signer.cert) != X509_V_OK) {
    return Fail(ErrorCode::kInvalidArgument,
                "OCSP signer certificate is not issued by the certificate issuer");
  }
  if ((X509_get_extension_flags(signer.cert) & EXFLAG_XKUSAGE) == 0 ||
      (X509_get_extended_key_usage(signer.cert) & XKU_OCSP_SIGN) == 0) {
    return Fail(ErrorCode::kInvalidArgument, "OCSP signer certificate lacks id-kp-OCSPSigning");
  }
  return Ok();
}

}  // namespace

const EVP_MD* CertIdMd(CertIdHash hash) {
  return hash == CertIdHash::kSha1 ? EVP_sha1() : EVP_sha256();
}

std::string_view CertIdHashName(CertIdHash hash) {
  return hash == CertIdHash::kSha1 ? "sha1" : "sha256";
}

Result<IssuerHashes> ComputeIssuerHashes(const X509* issuer, CertIdHash hash) {
  if (issuer == nullptr) return Fail(ErrorCode::kInvalidArgument, "issuer certificate required");
  IssuerHashes out{hash, Bytes(EVP_MAX_MD_SIZE), Bytes(EVP_MAX_MD_SIZE)};
  unsigned int name_len = 0, key_len = 0;
  if (X509_NAME_digest(X509_get_subject_name(issuer), CertIdMd(hash), out.name_hash.data(),
                       &name_len) != 1 ||
      X509_pubkey_digest(issuer, CertIdMd(hash), out.key_hash.data(), &key_len) != 1) {
    return ossl::CryptoFail("hash issuer name and key");
  }
  out.name_hash.resize(name_len);
  out.key_hash.resize(key_len);
  return out;
}

Result<Bytes> BuildOcspResponse(const X509* issuer, const OcspSigner& signer,
                                const OcspCertState& state, const OcspBuildOptions& options) {
  if (issuer == nullptr) return Fail(ErrorCode::kInvalidArgument, "issuer certificate required");
  CA_TRY_STATUS(CheckSigner(issuer, signer));
  if (state.serial.magnitude.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "OCSP response needs a serial number");
  }
  if (state.next_update <= state.this_update) {
    return Fail(ErrorCode::kInvalidArgument, "OCSP nextUpdate must be after thisUpdate");
  }
  if (options.cert_id_hashes.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "at least one CertID hash algorithm is required");
  }
  int status = V_OCSP_CERTSTATUS_GOOD;
  int reason = OCSP_REVOKED_STATUS_NOSTATUS;
  ossl::Asn1Time revoked_at;
  if (state.status == CertStatus::kRevoked) {
    status = V_OCSP_CERTSTATUS_REVOKED;
    CA_TRY(pki::ReasonFromCode(static_cast<int>(state.reason)));  // refuses hold / removeFromCRL
    if (state.reason != pki::RevocationReason::kUnspecified)
      reason = static_cast<int>(state.reason);
    revoked_at = CA_TRY(pki::ToAsn1Time(state.revocation_time));
  }
  ossl::Asn1Time this_update = CA_TRY(pki::ToAsn1Time(state.this_update));
  ossl::Asn1Time next_update = CA_TRY(pki::ToAsn1Time(state.next_update));
  ossl::Asn1Integer serial = CA_TRY(state.serial.ToAsn1());

  ossl::OcspBasicResp basic(OCSP_BASICRESP_new());
  if (!basic) return ossl::CryptoFail("allocate OCSP basic response");
  for (CertIdHash hash : options.cert_id_hashes) {
    ossl::OcspCertId id(OCSP_cert_id_new(CertIdMd(hash), X509_get_subject_name(issuer),
                                         X509_get0_pubkey_bitstr(issuer), serial.get()));
    if (!id) return ossl::CryptoFail("build OCSP CertID");
    if (OCSP_basic_add1_status(basic.get(), id.get(), status, reason, revoked_at.get(),
                               this_update.get(), next_update.get()) == nullptr) {
      return ossl::CryptoFail("add OCSP single response");
    }
  }
  // OCSP_basic_sign checks that the key matches the signer certificate.
  if (OCSP_basic_sign(basic.get(), signer.cert, signer.key, EVP_sha256(), nullptr,
                      OCSP_RESPID_KEY) != 1) {
    return ossl::CryptoFail("sign OCSP response");
  }
  ossl::OcspResponse resp(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic.get()));
  if (!resp) return ossl::CryptoFail("wrap OCSP response");
  return EncodeResponse(resp.get());
}

std::string_view OcspErrorName(OcspError error) {
  switch (error) {
    case OcspError::kMalformedRequest:
      return "malformedRequest";
    case OcspError::kInternalError:
      return "internalError";
    case OcspError::kTryLater:
      return "tryLater";
    case OcspError::kUnauthorized:
      return "unauthorized";
  }
  return "unknown";
}

Result<Bytes> OcspErrorResponse(OcspError error) {
  ossl::OcspResponse resp(OCSP_response_create(static_cast<int>(error), nullptr));
  if (!resp) return ossl::CryptoFail("build OCSP error response");
  return EncodeResponse(resp.get());
}

}  // namespace ca::crl_ocsp

namespace ca::crl_ocsp {

namespace {

Result<CertIdHash> HashOfCertId(const ASN1_OBJECT* alg) {
  int nid = OBJ_obj2nid(alg);
  if (nid == NID_sha1) return CertIdHash::kSha1;
  if (nid == NID_sha256) return CertIdHash::kSha256;
  return Fail(ErrorCode::kInvalidArgument, "CertID hash algorithm is neither SHA-1 nor SHA-256");
}

bool SameOctets(const ASN1_OCTET_STRING* a, const Bytes& b) {
  return static_cast<size_t>(ASN1_STRING_length(a)) == b.size() &&
         std::equal(b.begin(), b.end(), ASN1_STRING_get0_data(a));
}

void FreeX509Stack(STACK_OF(X509) * s) {
  sk_X509_free(s);
}
using X509Stack = ossl::Owned<STACK_OF(X509), FreeX509Stack>;

// OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT SEQUENCE {
// responseType OBJECT IDENTIFIER, response OCTET STRING } OPTIONAL } (RFC 6960 §4.2.1), declared
// here because OpenSSL keeps its OCSP_RESPONSE opaque and unpacks the BasicOCSPResponse only in the
// default library context (OCSP_response_get1_basic).
// clang-format off
struct ResponseBytes {
  ASN1_OBJECT* type;
  ASN1_OCTET_STRING* response;
};
ASN1_SEQUENCE(ResponseBytes) = {
    ASN1_SIMPLE(ResponseBytes, type, ASN1_OBJECT),
    ASN1_SIMPLE(ResponseBytes, response, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(ResponseBytes)

struct OuterResponse {
  ASN1_ENUMERATED* status;
  ResponseBytes* bytes;
};
ASN1_SEQUENCE(OuterResponse) = {
    ASN1_SIMPLE(OuterResponse, status, ASN1_ENUMERATED),
    ASN1_EXP_OPT(OuterResponse, bytes, ResponseBytes, 0),
} ASN1_SEQUENCE_END(OuterResponse)

void FreeOuterResponse(OuterResponse* r) {
  ASN1_item_free(reinterpret_cast<ASN1_VALUE*>(r), ASN1_ITEM_rptr(OuterResponse));
}
// clang-format on
using OuterResponsePtr = ossl::Owned<OuterResponse, FreeOuterResponse>;

// A library context without key decoders (only the "null" provider). OpenSSL 3.0 decodes the key
// of every certificate it parses, opportunistically, and builds a decoder context for it each time
// (~1.4 M instructions, more than the rest of a response check); a certificate parsed here keeps
// its exact bytes and no key. Used only where the key comes from elsewhere: the responder
// certificate embedded in a response whose bytes equal a responder verified before, whose
// decoded certificate (key included) the inspector holds. Created once, kept for the process.
OSSL_LIB_CTX* KeylessParseContext() {
  static OSSL_LIB_CTX* const ctx = [] {
    OSSL_LIB_CTX* c = OSSL_LIB_CTX_new();
    if (c != nullptr && OSSL_PROVIDER_load(c, "null") == nullptr) {
      OSSL_LIB_CTX_free(c);
      c = nullptr;
    }
    return c;
  }();
  return ctx;
}

// The BasicOCSPResponse of a successful response, its embedded certificates parsed in `libctx`
// (nullptr: the default context, keys decoded).
Result<ossl::OcspBasicResp> ParseBasicResponse(std::span<const uint8_t> der, OSSL_LIB_CTX* libctx) {
  const unsigned char* p = der.data();
  OuterResponsePtr outer(reinterpret_cast<OuterResponse*>(ASN1_item_d2i_ex(
      nullptr, &p, static_cast<long>(der.size()), ASN1_ITEM_rptr(OuterResponse), libctx, nullptr)));
  if (!outer || p != der.data() + der.size()) {
    ossl::DrainErrors();
    return Fail(ErrorCode::kInvalidArgument, "OCSP response does not parse");
  }
  if (ASN1_ENUMERATED_get(outer->status) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    return Fail(ErrorCode::kInvalidArgument, "OCSP response is not successful");
  }
  if (outer->bytes == nullptr || OBJ_obj2nid(outer->bytes->type) != NID_id_pkix_OCSP_basic) {
    return Fail(ErrorCode::kInvalidArgument, "OCSP response is not a basic response");
  }
  const ASN1_OCTET_STRING* inner = outer->bytes->response;
  const unsigned char* q = ASN1_STRING_get0_data(inner);
  const unsigned char* end = q + ASN1_STRING_length(inner);
  ossl::OcspBasicResp basic(reinterpret_cast<OCSP_BASICRESP*>(ASN1_item_d2i_ex(
      nullptr, &q, ASN1_STRING_length(inner), ASN1_ITEM_rptr(OCSP_BASICRESP), libctx, nullptr)));
  if (!basic || q != end) {
    ossl::DrainErrors();
    return Fail(ErrorCode::kInvalidArgument, "OCSP response is not a basic response");
  }
  return basic;
}

// OpenSSL's own client-side check: signature under the responder certificate, responder chain to
// the issuer (the only trust anchor), responder = issuer or delegated with id-kp-OCSPSigning and
// issued by the CertIDs' issuer.
Status CheckResponseSigner(OCSP_BASICRESP* basic, const X509* issuer) {
  ossl::X509Store store(X509_STORE_new());
  X509Stack extra(sk_X509_new_null());
  if (!store || !extra || X509_STORE_add_cert(store.get(), const_cast<X509*>(issuer)) != 1 ||
      X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN) != 1 ||
      sk_X509_push(extra.get(), const_cast<X509*>(issuer)) <= 0) {
    return ossl::CryptoFail("set up OCSP response verification");
  }
  if (OCSP_basic_verify(basic, extra.get(), store.get(), 0) != 1) {
    return Fail(ErrorCode::kCrypto,
                "OCSP response does not verify under the issuer: " + ossl::DrainErrors());
  }
  return Ok();
}

}  // namespace

Result<OcspResponseInfo> InspectOcspResponse(std::span<const uint8_t> der, const X509* issuer) {
  if (issuer == nullptr) return Fail(ErrorCode::kInvalidArgument, "issuer certificate required");
  OcspResponseInspector inspector = CA_TRY(OcspResponseInspector::For(issuer));
  return inspector.Inspect(der);
}

Result<OcspResponseInspector> OcspResponseInspector::For(const X509* issuer) {
  if (issuer == nullptr) return Fail(ErrorCode::kInvalidArgument, "issuer certificate required");
  return OcspResponseInspector(issuer, CA_TRY(ComputeIssuerHashes(issuer, CertIdHash::kSha1)),
                               CA_TRY(ComputeIssuerHashes(issuer, CertIdHash::kSha256)));
}

Result<OcspResponseInfo> OcspResponseInspector::Inspect(std::span<const uint8_t> der) {
  // With a responder verified before, the embedded certificates are parsed without their keys
  // (CheckSigner compares the bytes and verifies with the held certificate's key); a new responder
  // needs its key from the response itself.
  OSSL_LIB_CTX* libctx = verified_responders_.empty() ? nullptr : KeylessParseContext();
  ossl::OcspBasicResp basic = CA_TRY(ParseBasicResponse(der, libctx));
  CA_TRY_STATUS(CheckSigner(basic.get(), der, libctx != nullptr));

  int count = OCSP_resp_count(basic.get());
  if (count <= 0) return Fail(ErrorCode::kInvalidArgument, "OCSP response has no SingleResponse");
  OcspResponseInfo info;
  for (int i = 0; i < count; ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(basic.get(), i);
    ASN1_OBJECT* alg = nullptr;
    ASN1_OCTET_STRING *name_hash = nullptr, *key_hash = nullptr;
    ASN1_INTEGER* serial_asn1 = nullptr;
    if (OCSP_id_get0_info(&name_hash, &alg, &key_hash, &serial_asn1,
                          const_cast<OCSP_CERTID*>(OCSP_SINGLERESP_get0_id(single))) != 1) {
      return ossl::CryptoFail("read CertID");
    }
    CertIdHash hash = CA_TRY(HashOfCertId(alg));
    const IssuerHashes& expected = hash == CertIdHash::kSha1 ? sha1_ : sha256_;
    if (!SameOctets(name_hash, expected.name_hash) || !SameOctets(key_hash, expected.key_hash)) {
      return Fail(ErrorCode::kInvalidArgument, "OCSP response CertID names another issuer");
    }
    pki::Serial serial = CA_TRY(pki::Serial::FromAsn1(serial_asn1));
    int reason = -1;
    ASN1_GENERALIZEDTIME *revtime = nullptr, *thisupd = nullptr, *nextupd = nullptr;
    int status = OCSP_single_get0_status(single, &reason, &revtime, &thisupd, &nextupd);
    if (status != V_OCSP_CERTSTATUS_GOOD && status != V_OCSP_CERTSTATUS_REVOKED) {
      return Fail(ErrorCode::kInvalidArgument, "OCSP response status is neither good nor revoked");
    }
    if (nextupd == nullptr)
      return Fail(ErrorCode::kInvalidArgument, "OCSP response has no nextUpdate");
    OcspResponseInfo one;
    one.serial = std::move(serial);
    one.status = status == V_OCSP_CERTSTATUS_GOOD ? CertStatus::kGood : CertStatus::kRevoked;
    if (one.status == CertStatus::kRevoked) {
      one.revocation_time = CA_TRY(pki::FromAsn1Time(revtime));
      if (reason != OCSP_REVOKED_STATUS_NOSTATUS) {
        if (reason == OCSP_REVOKED_STATUS_UNSPECIFIED) {
          return Fail(ErrorCode::kInvalidArgument, "OCSP response encodes reason unspecified");
        }
        one.reason = CA_TRY(pki::ReasonFromCode(reason));
      }
    }
    one.this_update = CA_TRY(pki::FromAsn1Time(thisupd));
    one.next_update = CA_TRY(pki::FromAsn1Time(nextupd));
    if (i == 0) {
      info = std::move(one);
    } else if (one.serial != info.serial || one.status != info.status ||
               one.reason != info.reason || one.revocation_time != info.revocation_time ||
               one.this_update != info.this_update || one.next_update != info.next_update) {
      return Fail(ErrorCode::kInvalidArgument, "OCSP SingleResponses disagree");
    }
    info.cert_id_hashes.push_back(hash);
  }
  return info;
}

// A responder certificate already verified against this issuer (same DER) needs only the
// response's signature checked, under the key of the certificate held since then (OCSP_NOINTERN:
// the signer is looked up, by the response's ResponderID, among the held certificates only); a
// new one gets OpenSSL's full check first, on a parse that decoded its key.
Status OcspResponseInspector::CheckSigner(OCSP_BASICRESP* basic, std::span<const uint8_t> der,
                                          bool keyless) {
  X509* signer = nullptr;
  if (OCSP_resp_get0_signer(basic, &signer, nullptr) != 1 || signer == nullptr) {
    ossl::DrainErrors();
    if (keyless) {  // the full check says why, on a parse with keys
      ossl::OcspBasicResp full = CA_TRY(ParseBasicResponse(der, nullptr));
      return CheckResponseSigner(full.get(), issuer_);
    }
    return CheckResponseSigner(basic, issuer_);
  }
  Bytes signer_der = CA_TRY(ossl::CertToDer(signer));
  auto known = std::find_if(verified_responders_.begin(), verified_responders_.end(),
                            [&](const VerifiedResponder& r) { return r.der == signer_der; });
  if (known == verified_responders_.end()) {
    ossl::OcspBasicResp full;
    if (keyless) {
      full = CA_TRY(ParseBasicResponse(der, nullptr));
      if (OCSP_resp_get0_signer(full.get(), &signer, nullptr) != 1 || signer == nullptr)
        return ossl::CryptoFail("OCSP response signer");
      basic = full.get();
    }
    CA_TRY_STATUS(CheckResponseSigner(basic, issuer_));
    if (verified_responders_.size() >= 4) verified_responders_.erase(verified_responders_.begin());
    X509_up_ref(signer);
    verified_responders_.push_back({std::move(signer_der), ossl::X509Ptr(signer)});
    return Ok();
  }
  X509Stack held(sk_X509_new_null());
  if (!held || sk_X509_push(held.get(), known->cert.get()) <= 0) {
    return ossl::CryptoFail("set up OCSP response verification");
  }
  if (OCSP_basic_verify(basic, held.get(), nullptr, OCSP_NOINTERN | OCSP_NOVERIFY) != 1) {
    return Fail(ErrorCode::kCrypto,
                "OCSP response does not verify under the issuer: " + ossl::DrainErrors());
  }
  return Ok();
}

}  // namespace ca::crl_ocsp
