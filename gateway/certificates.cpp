// Certificate download (POST-as-GET /acme/cert/{serial}).
#include "gateway/handlers.h"

#include "gateway/pki_helpers.h"

namespace ca::gateway {

using nlohmann::json;

Outcome CertificatePost(HandlerContext& s, RequestState& ctx, const Jws& jws,
                        const std::string& serial) {
  if (!jws.PostAsGet())
    return Err(ProblemKind::kMalformed, "certificates are downloaded with POST-as-GET");
  auto txn = s.store.Read();
  if (!txn) return Internal(txn.error());
  auto cert = txn->GetCert(NormalizeSerial(serial));
  if (!cert) return Internal(cert.error());
  if (!*cert || (*cert)->account_id != ctx.account->id)
    return Err(ProblemKind::kNotFound, "no such certificate");
  ctx.log["serial"] = (*cert)->serial_hex;
  HttpResponse r;
  r.status = 200;
  r.body = (*cert)->chain_pem;
  r.headers.push_back({"Content-Type", "application/pem-certificate-chain"});
  return r;
}

}  // namespace ca::gateway
