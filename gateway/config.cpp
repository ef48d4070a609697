#include "gateway/config.h"

#include <set>

#include "common/openssl.h"

namespace ca::gateway {

namespace {

using nlohmann::json;

Status OnlyKeys(const json& obj, const std::string& where, std::initializer_list<const char*> keys) {
  if (!obj.is_object()) return Fail(ErrorCode::kInvalidArgument, "config: " + where + " must be an object");
  std::set<std::string> allowed(keys.begin(), keys.end());
  for (const auto& [k, v] : obj.items())
    if (!allowed.contains(k)) return Fail(ErrorCode::kInvalidArgument, "config: unknown key " + where + "." + k);
  return Ok();
}

template <class T>
Status Get(const json& obj, const char* key, T* out, bool required, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return Fail(ErrorCode::kInvalidArgument, "config: missing " + where + "." + key);
    return Ok();
  }
  try {
    *out = it->get<T>();
  } catch (const json::exception&) {
    return Fail(ErrorCode::kInvalidArgument, "config: " + where + "." + key + " has the wrong type");
  }
  return Ok();
}

}  // namespace

Result<GatewayConfig> GatewayConfig::FromJson(const json& doc) {
  GatewayConfig c;
  CA_TRY_STATUS(OnlyKeys(doc, "(top)", {"listen", "base_url", "tls", "store", "policy_store", "profiles_dir", "mac_wrap_key",
                                        "engine", "validation", "caa_identities", "terms_of_service", "website",
                                        "environment", "limits"}));
  const std::string top = "(top)";
  CA_TRY_STATUS(Get(doc, "base_url", &c.acme.base_url, true, top));
  while (c.acme.base_url.ends_with("/")) c.acme.base_url.pop_back();
  if (!c.acme.base_url.starts_with("https://"))
    return Fail(ErrorCode::kInvalidArgument, "config: base_url must be an https:// URL");
  CA_TRY_STATUS(Get(doc, "store", &c.store_dir, true, top));
  CA_TRY_STATUS(Get(doc, "policy_store", &c.policy_store_dir, true, top));
  CA_TRY_STATUS(Get(doc, "profiles_dir", &c.profiles_dir, true, top));
  CA_TRY_STATUS(Get(doc, "mac_wrap_key", &c.mac_wrap_key, true, top));
  if (!c.mac_wrap_key.starts_with("file:"))
    return Fail(ErrorCode::kInvalidArgument, "config: mac_wrap_key must be file:/path");
  CA_TRY_STATUS(Get(doc, "caa_identities", &c.acme.caa_identities, true, top));
  if (c.acme.caa_identities.empty()) return Fail(ErrorCode::kInvalidArgument, "config: caa_identities is empty");
  CA_TRY_STATUS(Get(doc, "terms_of_service", &c.acme.terms_of_service, false, top));
  CA_TRY_STATUS(Get(doc, "website", &c.acme.website, false, top));
  CA_TRY_STATUS(Get(doc, "environment", &c.acme.environment, false, top));
  if (c.acme.environment != "production" && c.acme.environment != "staging")
    return Fail(ErrorCode::kInvalidArgument, "config: environment must be production or staging");

  if (doc.contains("listen")) {
    const json& l = doc["listen"];
    CA_TRY_STATUS(OnlyKeys(l, "listen", {"address", "port", "threads", "request_workers"}));
    CA_TRY_STATUS(Get(l, "address", &c.http.listen_address, false, "listen"));
    int port = c.http.port;
    CA_TRY_STATUS(Get(l, "port", &port, false, "listen"));
    if (port < 0 || port > 65535) return Fail(ErrorCode::kInvalidArgument, "config: listen.port out of range");
    c.http.port = static_cast<uint16_t>(port);
    CA_TRY_STATUS(Get(l, "threads", &c.http.threads, false, "listen"));
    if (c.http.threads == 0 || c.http.threads > 64) return Fail(ErrorCode::kInvalidArgument, "config: listen.threads must be 1..64");
    CA_TRY_STATUS(Get(l, "request_workers", &c.http.request_workers, false, "listen"));
    if (c.http.request_workers > 256)
      return Fail(ErrorCode::kInvalidArgument, "config: listen.request_workers must be 0..256");
  }
  if (!doc.contains("tls")) return Fail(ErrorCode::kInvalidArgument, "config: missing tls");
  CA_TRY_STATUS(OnlyKeys(doc["tls"], "tls", {"cert", "key"}));
  CA_TRY_STATUS(Get(doc["tls"], "cert", &c.tls_cert_path, true, "tls"));
  CA_TRY_STATUS(Get(doc["tls"], "key", &c.tls_key_path, true, "tls"));

  if (!doc.contains("engine")) return Fail(ErrorCode::kInvalidArgument, "config: missing engine");
  const json& e = doc["engine"];
  CA_TRY_STATUS(OnlyKeys(e, "engine", {"socket", "client_cert", "client_key", "fingerprint"}));
  CA_TRY_STATUS(Get(e, "socket", &c.engine.socket, true, "engine"));
  CA_TRY_STATUS(Get(e, "client_cert", &c.engine.client_cert, true, "engine"));
  CA_TRY_STATUS(Get(e, "client_key", &c.engine.client_key, true, "engine"));
  CA_TRY_STATUS(Get(e, "fingerprint", &c.engine.fingerprint, true, "engine"));

  if (doc.contains("validation")) c.validation = doc["validation"];
  if (!c.validation.contains("caa_identities")) c.validation["caa_identities"] = c.acme.caa_identities;

  if (doc.contains("limits")) {
    const json& l = doc["limits"];
    CA_TRY_STATUS(OnlyKeys(l, "limits", {"max_body_bytes", "nonce_lifetime_seconds", "order_lifetime_seconds",
                                         "authz_lifetime_seconds", "max_failed_validations_per_hour",
                                         "max_challenge_attempts", "challenge_retry_seconds",
                                         "caa_recheck_seconds", "validation_workers", "max_identifiers"}));
    CA_TRY_STATUS(Get(l, "max_body_bytes", &c.acme.max_body_bytes, false, "limits"));
    CA_TRY_STATUS(Get(l, "nonce_lifetime_seconds", &c.acme.nonce_lifetime_seconds, false, "limits"));
    CA_TRY_STATUS(Get(l, "order_lifetime_seconds", &c.acme.order_lifetime_seconds, false, "limits"));
    CA_TRY_STATUS(Get(l, "authz_lifetime_seconds", &c.acme.authz_lifetime_seconds, false, "limits"));
    CA_TRY_STATUS(Get(l, "max_failed_validations_per_hour", &c.acme.max_failed_validations_per_hour, false, "limits"));
    CA_TRY_STATUS(Get(l, "max_challenge_attempts", &c.acme.max_challenge_attempts, false, "limits"));
    CA_TRY_STATUS(Get(l, "challenge_retry_seconds", &c.acme.challenge_retry_seconds, false, "limits"));
    CA_TRY_STATUS(Get(l, "caa_recheck_seconds", &c.acme.caa_recheck_seconds, false, "limits"));
    CA_TRY_STATUS(Get(l, "validation_workers", &c.acme.validation_workers, false, "limits"));
    CA_TRY_STATUS(Get(l, "max_identifiers", &c.acme.max_identifiers, false, "limits"));
    if (c.acme.max_body_bytes < 1024 || c.acme.max_body_bytes > 1024 * 1024)
      return Fail(ErrorCode::kInvalidArgument, "config: limits.max_body_bytes must be 1 KiB..1 MiB");
    if (c.acme.validation_workers == 0 || c.acme.validation_workers > 64)
      return Fail(ErrorCode::kInvalidArgument, "config: limits.validation_workers must be 1..64");
  }
  return c;
}

Result<GatewayConfig> GatewayConfig::Load(const std::string& path) {
  auto text = CA_TRY(ossl::ReadFile(path));
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return Fail(ErrorCode::kInvalidArgument, "config: " + path + " is not valid JSON");
  auto c = CA_TRY(FromJson(doc));
  c.http.tls_cert_pem = CA_TRY(ossl::ReadFile(c.tls_cert_path));
  c.http.tls_key_pem = CA_TRY(ossl::ReadFile(c.tls_key_path));
  return c;
}

}  // namespace ca::gateway
