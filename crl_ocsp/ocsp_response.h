// Pre-signed OCSP responses (RFC 6960, RFC 5019 profile) for one certificate, signed by the
// delegated OCSP signer. The engine calls this with an HSM-backed EVP_PKEY; tests use software
// keys.
#pragma once

#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include <array>
#include <vector>

#include "common/result.h"
#include "crl_ocsp/revocation.h"

namespace ca::crl_ocsp {

// Hash algorithm of a CertID (RFC 6960 §4.1.1). RFC 5019 clients send SHA-1.
enum class CertIdHash : uint8_t { kSha1 = 1, kSha256 = 2 };
const EVP_MD* CertIdMd(CertIdHash hash);
std::string_view CertIdHashName(CertIdHash hash);

// issuerNameHash and issuerKeyHash of an issuer, in one hash algorithm.
struct IssuerHashes {
  CertIdHash hash;
  Bytes name_hash;  // H(DER of the issuer's subject name)
  Bytes key_hash;   // H(subjectPublicKey BIT STRING value), RFC 6960 §4.1.1
};
Result<IssuerHashes> ComputeIssuerHashes(const X509* issuer, CertIdHash hash);

// The delegated responder (RFC 6960 §4.2.2.2): its certificate is issued by the issuer and carries
// id-kp-OCSPSigning (and should carry id-pkix-ocsp-nocheck). The issuer itself is accepted too.
struct OcspSigner {
  EVP_PKEY* key = nullptr;  // private key (HSM through the provider, or software)
  X509* cert = nullptr;     // included in the response; responderID is its key hash
};

struct OcspCertState {
  pki::Serial serial;
  CertStatus status = CertStatus::kGood;
  Time revocation_time{};  // revoked only
  pki::RevocationReason reason =
      pki::RevocationReason::kUnspecified;  // revoked only; unspecified is omitted
  Time this_update{};
  Time next_update{};
};

struct OcspBuildOptions {
  // One SingleResponse per hash, in one signed response: RFC 5019 §2.2.1 allows extra
  // SingleResponses for pre-generation efficiency, and this lets SHA-1 and SHA-256 CertID clients
  // share one stored response (one signature per certificate). First entry first.
  std::vector<CertIdHash> cert_id_hashes{CertIdHash::kSha1, CertIdHash::kSha256};
};

// Returns the DER OCSPResponse (successful, id-pkix-ocsp-basic), signed with SHA-256
// (sha256WithRSAEncryption or ecdsa-with-SHA256 depending on the key), responderID byKey,
// the signer certificate included, no nonce, producedAt = now.
Result<Bytes> BuildOcspResponse(const X509* issuer, const OcspSigner& signer,
                                const OcspCertState& state, const OcspBuildOptions& options = {});

// What a signed response says, after checking it: successful basic response, signature valid
// under the included signer certificate, signer = issuer or issued (and signed) by it with
// id-kp-OCSPSigning, every SingleResponse about the same serial with the same status and times,
// every CertID naming `issuer` (SHA-1 or SHA-256). The store runs this on every response it keeps.
struct OcspResponseInfo {
  pki::Serial serial;
  CertStatus status = CertStatus::kGood;
  Time revocation_time{};
  pki::RevocationReason reason = pki::RevocationReason::kUnspecified;
  Time this_update{};
  Time next_update{};
  std::vector<CertIdHash> cert_id_hashes;
};
Result<OcspResponseInfo> InspectOcspResponse(std::span<const uint8_t> der, const X509* issuer);

// The same checks for a stream of responses of one issuer (the status store's writer): the
// issuer's CertID hashes are computed once, and a delegated responder certificate (by its DER) is
// verified against the issuer once; later responses it signed get their signature checked only.
// Not thread-safe: one per writer.
class OcspResponseInspector {
 public:
  static Result<OcspResponseInspector> For(const X509* issuer);  // `issuer` must outlive it
  Result<OcspResponseInfo> Inspect(std::span<const uint8_t> der);

 private:
  OcspResponseInspector(const X509* issuer, IssuerHashes sha1, IssuerHashes sha256)
      : issuer_(issuer), sha1_(std::move(sha1)), sha256_(std::move(sha256)) {}
  // `keyless`: `basic` was parsed without the embedded certificates' keys (from `der`).
  Status CheckSigner(OCSP_BASICRESP* basic, std::span<const uint8_t> der, bool keyless);
  struct VerifiedResponder {
    Bytes der;
    ossl::X509Ptr cert;  // decoded with its key: checks the signatures of later responses
  };
  const X509* issuer_;
  IssuerHashes sha1_, sha256_;
  std::vector<VerifiedResponder> verified_responders_;  // one or two (across a renewal)
};

// RFC 6960 §4.2.1 unsuccessful response statuses: unsigned, no responseBytes.
enum class OcspError : int {
  kMalformedRequest = OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
  kInternalError = OCSP_RESPONSE_STATUS_INTERNALERROR,
  kTryLater = OCSP_RESPONSE_STATUS_TRYLATER,
  kUnauthorized = OCSP_RESPONSE_STATUS_UNAUTHORIZED,
};
std::string_view OcspErrorName(OcspError error);
// The DER of the unsigned error response (5 bytes); build once and reuse.
Result<Bytes> OcspErrorResponse(OcspError error);

}  // namespace ca::crl_ocsp
