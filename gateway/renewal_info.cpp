// renewalInfo (RFC 9773): the suggested renewal window of a certificate this server issued; a
// certificate the engine reports revoked (by anyone) is to be renewed now.
#include "gateway/handlers.h"
#include "gateway/renewal_window.h"

#include <openssl/x509v3.h>

#include <cstring>

#include "common/encoding.h"
#include "pki/serial.h"
#include "pki/time.h"

namespace ca::gateway {

using nlohmann::json;

Outcome RenewalInfo(HandlerContext& s, const std::string& cert_id) {
  auto dot = cert_id.find('.');
  if (dot == std::string::npos)
    return Err(ProblemKind::kMalformed, "renewalInfo id must be <AKI>.<serial> in base64url");
  auto aki = Base64UrlDecode(cert_id.substr(0, dot));
  auto serial = Base64UrlDecode(cert_id.substr(dot + 1));
  if (!aki || !serial || aki->empty() || serial->empty())
    return Err(ProblemKind::kMalformed, "renewalInfo id must be <AKI>.<serial> in base64url");
  auto parsed = pki::Serial::FromBytes(*serial);
  if (!parsed) return Err(ProblemKind::kNotFound, "no certificate with this serial");
  auto txn = s.store.Read();
  if (!txn) return Internal(txn.error());
  auto record = txn->GetCert(parsed->Hex());
  if (!record) return Internal(record.error());
  if (!*record) return Err(ProblemKind::kNotFound, "no certificate with this serial");
  auto chain = ossl::CertsFromPem((*record)->chain_pem);
  if (!chain || chain->empty())
    return Internal(Error{ErrorCode::kCorrupt, "stored chain unreadable"});
  const ASN1_OCTET_STRING* cert_aki = X509_get0_authority_key_id(chain->front().get());
  if (cert_aki == nullptr || static_cast<size_t>(ASN1_STRING_length(cert_aki)) != aki->size() ||
      std::memcmp(ASN1_STRING_get0_data(cert_aki), aki->data(), aki->size()) != 0)
    return Err(ProblemKind::kNotFound,
               "no certificate with this authority key identifier and serial");
  // Revocation state comes from the engine's CA store: revocations by the RA or by a mass
  // revocation never pass through this server.
  engine::api::GetCertificateRequest get{(*record)->serial_hex, s.Environment()};
  auto answer = s.issuer.Call(get);
  if (!answer) return EngineUnavailable("ACME_CA_ERROR: the signing engine is unavailable");
  if (auto* err = std::get_if<engine::api::EngineError>(&*answer)) {
    if (err->kind == engine::api::EngineErrorKind::kNotFound)
      return Err(ProblemKind::kNotFound, "no certificate with this serial");
    return std::unexpected(ProblemForEngineError(*err));
  }
  auto* engine_record = std::get_if<engine::api::CertificateRecord>(&*answer);
  if (engine_record == nullptr)
    return Internal(
        Error{ErrorCode::kInternal, "engine answered get_certificate with another message type"});
  // Proportional to the lifetime (renewal_window.h): a short-lived certificate gets a window
  // inside its few days, polled often enough not to miss it.
  RenewalWindow w = SuggestRenewalWindow((*record)->not_before, (*record)->not_after,
                                         engine_record->revoked, s.clock());
  HttpResponse r = JsonResponse(
      200, {{"suggestedWindow",
             {{"start", pki::FormatRfc3339(w.start)}, {"end", pki::FormatRfc3339(w.end)}}}});
  r.headers.push_back({"Retry-After", std::to_string(w.retry_after)});
  return r;
}

}  // namespace ca::gateway
