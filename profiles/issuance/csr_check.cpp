#include "profiles/issuance/csr_check.h"

#include <openssl/err.h>

#include "pki/csr.h"
#include "profiles/issuance/dns_names.h"
#include "profiles/issuance/weak_key.h"

namespace ca::profiles::issuance {

namespace {

std::unexpected<Error> Refuse(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, "CSR refused: " + std::move(message));
}

}  // namespace

Result<AcceptedCsr> CheckCsr(const Profile& profile, const CsrCheckRequest& request) {
  if (request.csr == nullptr && request.csr_der.empty())
    return Fail(ErrorCode::kInvalidArgument, "CSR refused: no CSR");
  if (!request.known_key) return Fail(ErrorCode::kInternal, "CheckCsr: no key lookup supplied");
  if (!profile.enabled) {
    return Fail(ErrorCode::kPermissionDenied,
                "profile " + std::string(profiles::policy::ProfileName(profile.id)) + " is disabled");
  }
  CA_TRY_STATUS(ValidateNames(profile, request.names));

  // Signature, names and key facts are read the gateway's way (pki/csr.h); the key rules are the
  // profile's.
  pki::CsrFacts csr =
      CA_TRY(request.csr != nullptr ? pki::ReadCsr(request.csr) : pki::ReadCsr(request.csr_der));
  const EVP_PKEY* key = csr.public_key.get();
  if (auto st = CheckSubscriberKey(key, profile); !st) return Refuse(st.error().message);
  CA_TRY_STATUS(pki::CheckCsrNames(csr, request.names));

  AcceptedCsr accepted;
  accepted.spki_sha256 = csr.key.spki_sha256;
  for (const X509* ca : request.ca_certificates) {
    const EVP_PKEY* ca_key = X509_get0_pubkey(ca);
    if (ca_key == nullptr)
      return Fail(ErrorCode::kInvalidArgument, "CheckCsr: CA certificate without key");
    if (EVP_PKEY_eq(ca_key, key) == 1) return Refuse("the public key is the CA's own key");
    ERR_clear_error();  // a type mismatch (RSA vs EC) is an answer, not an error
  }
  if (CA_TRY(request.known_key(accepted.spki_sha256))) {
    return Refuse(
        "the public key was certified before or belongs to a CA or an ACME account; "
        "generate a fresh key pair");
  }
  accepted.public_key = std::move(csr.public_key);
  accepted.request = std::move(csr.request);
  return accepted;
}

}  // namespace ca::profiles::issuance
