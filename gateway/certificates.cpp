// Certificate download (POST-as-GET /acme/cert/{serial}).
#include "gateway/handlers.h"

#include "pki/serial.h"

namespace ca::gateway {

using nlohmann::json;

Outcome CertificatePost(HandlerContext& s, RequestState& ctx, const Jws& jws,
                        const std::string& serial) {
  if (!jws.PostAsGet())
    return Err(ProblemKind::kMalformed, "certificates are downloaded with POST-as-GET");
  auto parsed = pki::Serial::FromOperatorHex(serial);
  if (!parsed) return Err(ProblemKind::kNotFound, "no such certificate");
  auto txn = s.store.Read();
  if (!txn) return Internal(txn.error());
  auto cert = txn->GetCert(parsed->Hex());
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
