// Checks a subscriber's CSR against an order and a profile before anything is built (CA-5, ACME-9,
// RFC 8555 §7.4). Each refusal is kInvalidArgument with one line naming the defect; a failing
// key lookup propagates its own error unchanged.
#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"
#include "profiles/issuance/profile.h"

namespace ca::profiles::issuance {

// The engine's key fingerprint index: true when this SHA-256 of a SubjectPublicKeyInfo DER is a key
// already certified (CA-5). ACME account keys are not in it: the gateway refuses a CSR carrying the
// account's own key at finalize (gateway/csr.h, RFC 8555 §11.1).
using KnownKeyLookup = std::function<Result<bool>(std::span<const uint8_t> spki_sha256)>;

struct CsrCheckRequest {
  // The CSR: its DER (decoded once, here), or an already decoded request (copied: OpenSSL 3 then
  // encodes and decodes it again, the costlier path).
  std::span<const uint8_t> csr_der;
  const X509_REQ* csr = nullptr;
  std::vector<std::string> names;            // the order's dNSName identifiers (lower case)
  std::vector<const X509*> ca_certificates;  // the issuing chain: their keys are refused outright
  KnownKeyLookup known_key;                  // required
};

struct AcceptedCsr {
  ossl::Pkey public_key;    // the subscriber key to certify
  ossl::Bytes spki_sha256;  // its fingerprint, for the engine's index once issued
  ossl::X509Req request;    // the decoded CSR
  // Its SubjectPublicKeyInfo as decoded (TbsRequest::public_key_info); owned by `request`.
  const X509_PUBKEY* public_key_info() const {
    return request ? X509_REQ_get_X509_PUBKEY(request.get()) : nullptr;
  }
};

// In order: profile enabled; order names valid for the profile; the CSR read by pki::ReadCsr
// (decoding, signature); key (CheckSubscriberKey); names (pki::CheckCsrNames: the shared name
// rules, equal to the order's names); the key is none of the CA certificates' keys; the lookup
// does not know it.
Result<AcceptedCsr> CheckCsr(const Profile& profile, const CsrCheckRequest& request);

}  // namespace ca::profiles::issuance
