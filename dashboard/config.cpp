#include "dashboard/config.h"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

#include "common/openssl.h"
#include "pki/json_fields.h"

namespace ca::dashboard {

namespace {

Result<std::string> RequiredPath(pki::JsonFields& f, std::string_view key) {
  auto v = CA_TRY(f.OptionalNonEmptyString(key));
  if (!v) return f.Bad(key, "expected a path");
  return *v;
}

}  // namespace

Result<DashboardConfig> ParseDashboardConfig(std::string_view json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded()) return Fail(ErrorCode::kInvalidArgument, "config is not JSON");
  auto f = CA_TRY(pki::JsonFields::Of(j, "config"));
  DashboardConfig c;
  if (auto address = CA_TRY(f.OptionalString("listen_address"))) {
    in_addr a{};
    if (inet_pton(AF_INET, address->c_str(), &a) != 1) {
      return f.Bad("listen_address", "expected an IPv4 address");
    }
    c.listen_address = *address;
  }
  if (auto port = CA_TRY(f.OptionalIntIn("port", 0, 65535))) c.port = static_cast<uint16_t>(*port);
  const nlohmann::json* tls = CA_TRY(f.Object("tls"));
  auto t = CA_TRY(pki::JsonFields::Of(*tls, "config.tls"));
  c.tls_cert_path = CA_TRY(RequiredPath(t, "cert"));
  c.tls_key_path = CA_TRY(RequiredPath(t, "key"));
  CA_TRY_STATUS(t.RefuseUnknown());
  c.policy_store = CA_TRY(RequiredPath(f, "policy_store"));
  const nlohmann::json* audit = CA_TRY(f.Object("audit"));
  auto a = CA_TRY(pki::JsonFields::Of(*audit, "config.audit"));
  c.audit.engine = CA_TRY(RequiredPath(a, "engine"));
  c.audit.gateway = CA_TRY(RequiredPath(a, "gateway"));
  c.audit.ra = CA_TRY(RequiredPath(a, "ra"));
  // Only with the staging service (setup.conf STAGING): its gateway's failures, labelled staging.
  c.audit.gateway_staging = CA_TRY(a.OptionalNonEmptyString("gateway_staging")).value_or("");
  CA_TRY_STATUS(a.RefuseUnknown());
  if (auto ttl = CA_TRY(f.OptionalIntIn("session_ttl_seconds", 60, 7 * 86400))) {
    c.session_ttl_seconds = *ttl;
  }
  if (auto n = CA_TRY(f.OptionalIntIn("threads", 1, 64))) c.threads = static_cast<unsigned>(*n);
  CA_TRY_STATUS(f.RefuseUnknown());
  return c;
}

Result<DashboardConfig> LoadDashboardConfig(const std::string& path) {
  std::string text = CA_TRY(ossl::ReadFile(path));
  auto c = ParseDashboardConfig(text);
  if (!c) return Fail(c.error().code, path + ": " + c.error().message);
  return c;
}

}  // namespace ca::dashboard
