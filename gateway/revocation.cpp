// revokeCert (RFC 8555 §7.6): by the issuing account, an account of the same external account, or
// the certificate key. Whether it is already revoked is the engine's answer.
#include "gateway/handlers.h"

#include <openssl/x509v3.h>

#include <set>

#include "common/encoding.h"
#include "common/log.h"
#include "gateway/acme_metrics.h"
#include "pki/serial.h"

namespace ca::gateway {

using nlohmann::json;

Outcome RevokeCert(HandlerContext& s, RequestState& ctx, const Jws& jws) {
  auto payload = CA_TRY(PayloadObject(jws));
  if (!payload.contains("certificate") || !payload["certificate"].is_string())
    return Err(ProblemKind::kMalformed, "revokeCert needs a certificate");
  auto der = Base64UrlDecode(payload["certificate"].get<std::string>());
  if (!der) return Err(ProblemKind::kMalformed, "certificate is not base64url");
  auto x509 = ossl::CertFromDer(*der);
  if (!x509) return Err(ProblemKind::kMalformed, "certificate is not a DER X.509 certificate");
  auto parsed = pki::Serial::FromCert(x509->get());
  if (!parsed) return Err(ProblemKind::kMalformed, "certificate serial: " + parsed.error().message);
  std::string serial = parsed->Hex();
  ctx.log["serial"] = serial;

  int reason = 0;
  if (payload.contains("reason")) {
    if (!payload["reason"].is_number_integer())
      return Err(ProblemKind::kBadRevocationReason, "reason must be an integer");
    reason = payload["reason"].get<int>();
  }
  static const std::set<int> kAllowed = {0, 1, 3, 4, 5, 9};
  if (!kAllowed.contains(reason))
    return Err(ProblemKind::kBadRevocationReason,
               "reason " + std::to_string(reason) + " is not accepted (0, 1, 3, 4, 5, 9)");

  auto txn = s.store.Read();
  if (!txn) return Internal(txn.error());
  auto record = txn->GetCert(serial);
  if (!record) return Internal(record.error());
  if (!*record)
    return Err(ProblemKind::kMalformed,
               "ACME_REQUEST_NOT_FOUND: this certificate was not issued by this server");
  auto chain = ossl::CertsFromPem((*record)->chain_pem);
  if (!chain || chain->empty())
    return Internal(Error{ErrorCode::kCorrupt, "stored chain unreadable"});
  auto stored_der = ossl::CertToDer(chain->front().get());
  if (!stored_der || *stored_der != *der)
    return Err(ProblemKind::kMalformed,
               "the certificate differs from the one issued under this serial");

  std::string actor;
  bool signed_by_cert_key = false;
  if (ctx.account) {
    const AccountRecord& a = *ctx.account;
    if (a.id != (*record)->account_id && a.external_account_kid != (*record)->external_account_kid)
      return Err(ProblemKind::kUnauthorized, "this account may not revoke this certificate");
    auto standing = s.policy.Decide(a, {}, a.profile, s.clock());
    if (!standing) return Internal(standing.error());
    if (!standing->allowed)
      return std::unexpected(
          ProblemForResultCode(standing->result_code, standing->name, standing->detail));
    actor = "acme-account:" + a.id;
  } else {
    auto jwk_key = PublicKeyFromJwk(ctx.jwk);
    EVP_PKEY* cert_key = X509_get0_pubkey(x509->get());
    if (!jwk_key || cert_key == nullptr || EVP_PKEY_eq(jwk_key->get(), cert_key) != 1)
      return Err(ProblemKind::kUnauthorized, "the jwk is not the certificate's public key");
    uint32_t ku = X509_get_key_usage(x509->get());
    if ((ku & KU_DIGITAL_SIGNATURE) == 0)
      return Err(ProblemKind::kUnauthorized,
                 "the certificate's keyUsage does not allow digitalSignature");
    signed_by_cert_key = true;
    actor = "cert-key";
  }
  if (reason == 1 && !signed_by_cert_key)
    return Err(ProblemKind::kBadRevocationReason,
               "keyCompromise must be requested with a JWS signed by the certificate key");
  // Already revoked (by this server, the RA or a mass revocation): the engine says so.
  engine::api::RevokeRequest rr;
  rr.serial_hex = (*record)->serial_hex;
  rr.reason = static_cast<pki::RevocationReason>(reason);
  rr.actor = actor;
  rr.environment = s.Environment();
  auto answer = s.issuer.Call(rr);
  if (!answer) return EngineUnavailable("ACME_CA_ERROR: the signing engine is unavailable");
  if (auto* err = std::get_if<engine::api::EngineError>(&*answer)) {
    if (err->kind != engine::api::EngineErrorKind::kAlreadyRevoked)
      return std::unexpected(ProblemForEngineError(*err));
    return Err(ProblemKind::kAlreadyRevoked, "certificate " + serial + " is already revoked");
  }
  auto* rev = std::get_if<engine::api::RevokeResponse>(&*answer);
  if (rev == nullptr)
    return Internal(
        Error{ErrorCode::kInternal, "engine answered revoke with another message type"});
  if (!rev->newly_revoked)
    return Err(ProblemKind::kAlreadyRevoked, "certificate " + serial + " is already revoked");
  log::Info("certificate_revoked", {{"serial", serial}, {"reason", reason}, {"actor", actor}});
  s.metrics.CountRevoked(reason);
  HttpResponse r;
  r.status = 200;
  return r;
}

}  // namespace ca::gateway
