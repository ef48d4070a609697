#include "reports/ledger_json.h"

#include "pki/time.h"

namespace ca::reports {

using nlohmann::json;

json ToJson(const CertificateEntry& c) {
  json j = {{"serial", c.serial_hex},
            {"environment", c.environment},
            {"profile", c.profile},
            {"names", c.names},
            {"acme_account", c.acme_account_id},
            {"order", c.order_id},
            {"issued_at", pki::FormatRfc3339(c.issued_at)},
            {"not_before", pki::FormatRfc3339(c.not_before)},
            {"not_after", pki::FormatRfc3339(c.not_after)},
            {"revoked", c.revoked}};
  if (c.revoked) {
    j["revoked_at"] = pki::FormatRfc3339(c.revoked_at);
    j["reason"] = c.reason;
    j["reason_name"] = c.reason_name;
  }
  return j;
}

json ToJson(const FailureEntry& f) {
  return {{"at", pki::FormatRfc3339(f.at)},
          {"environment", f.environment},
          {"kind", FailureKindName(f.kind)},
          {"name", f.name},
          {"challenge", f.challenge},
          {"result_code", f.result_code},
          {"problem", f.problem},
          {"detail", f.detail},
          {"acme_account", f.acme_account_id}};
}

json ToJson(const ChangeEntry& c) {
  return {{"at", pki::FormatRfc3339(c.at)},
          {"actor", c.actor},
          {"action", c.action},
          {"object_type", c.object_type},
          {"object_id", c.object_id},
          {"domain", c.domain},
          {"before", c.before},
          {"after", c.after}};
}

}  // namespace ca::reports
