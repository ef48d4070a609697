#include "crl_ocsp/ocsp_response.h"

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
    if (state.reason != pki::RevocationReason::kUnspecified) reason = static_cast<int>(state.reason);
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
  const unsigned char* p = der.data();
  ossl::OcspResponse resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!resp || p != der.data() + der.size()) {
    ossl::DrainErrors();
    return Fail(ErrorCode::kInvalidArgument, "OCSP response does not parse");
  }
  if (OCSP_response_status(resp.get()) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    return Fail(ErrorCode::kInvalidArgument, "OCSP response is not successful");
  }
  ossl::OcspBasicResp basic(OCSP_response_get1_basic(resp.get()));
  if (!basic) return ossl::CryptoFail("OCSP response is not a basic response");
  CA_TRY_STATUS(CheckSigner(basic.get()));

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
// response's signature checked under its key; a new one gets OpenSSL's full check first.
Status OcspResponseInspector::CheckSigner(OCSP_BASICRESP* basic) {
  X509* signer = nullptr;
  if (OCSP_resp_get0_signer(basic, &signer, nullptr) != 1 || signer == nullptr) {
    ossl::DrainErrors();
    return CheckResponseSigner(basic, issuer_);  // signer not included: the full check says why
  }
  Bytes signer_der = CA_TRY(ossl::CertToDer(signer));
  if (std::find(verified_responders_.begin(), verified_responders_.end(), signer_der) ==
      verified_responders_.end()) {
    CA_TRY_STATUS(CheckResponseSigner(basic, issuer_));
    if (verified_responders_.size() >= 4) verified_responders_.erase(verified_responders_.begin());
    verified_responders_.push_back(std::move(signer_der));
    return Ok();
  }
  if (OCSP_basic_verify(basic, nullptr, nullptr, OCSP_NOVERIFY) != 1) {
    return Fail(ErrorCode::kCrypto,
                "OCSP response does not verify under the issuer: " + ossl::DrainErrors());
  }
  return Ok();
}

}  // namespace ca::crl_ocsp
