#include "gateway/config.h"

#include <unistd.h>

#include "common/openssl.h"
#include "engine/api/channel.h"
#include "gateway/nonce.h"
#include "pki/json_fields.h"

namespace ca::gateway {

namespace {

using nlohmann::json;
using pki::JsonFields;

Status ParseListen(const json& obj, HttpServerOptions& http) {
  auto f = CA_TRY(JsonFields::Of(obj, "config.listen"));
  http.listen_address = CA_TRY(f.OptionalString("address")).value_or(http.listen_address);
  if (auto port = CA_TRY(f.OptionalIntIn("port", 0, 65535)))
    http.port = static_cast<uint16_t>(*port);
  if (auto threads = CA_TRY(f.OptionalIntIn("threads", 1, 64)))
    http.threads = static_cast<unsigned>(*threads);
  if (auto workers = CA_TRY(f.OptionalIntIn("request_workers", 0, 256))) {
    http.request_workers = static_cast<unsigned>(*workers);
  }
  // Connection exhaustion limits (gateway/README.md, "Listeners and connection limits").
  if (auto v = CA_TRY(f.OptionalIntIn("max_connections", 0, 1'000'000)))
    http.max_connections = static_cast<unsigned>(*v);
  if (auto v = CA_TRY(f.OptionalIntIn("max_connections_per_ip", 0, 1'000'000))) {
    http.max_connections_per_ip = static_cast<unsigned>(*v);
  }
  if (auto v = CA_TRY(f.OptionalIntIn("request_deadline_seconds", 1, 300))) {
    http.request_deadline_seconds = static_cast<unsigned>(*v);
  }
  if (auto v = CA_TRY(f.OptionalIntIn("idle_timeout_seconds", 1, 3600))) {
    http.connection_timeout_seconds = static_cast<unsigned>(*v);
  }
  return f.RefuseUnknown();
}

Status ParseMetrics(const json& obj, MetricsListenOptions& metrics) {
  auto f = CA_TRY(JsonFields::Of(obj, "config.metrics"));
  metrics.enabled = CA_TRY(f.OptionalBool("enabled")).value_or(metrics.enabled);
  metrics.address = CA_TRY(f.OptionalString("address")).value_or(metrics.address);
  if (auto port = CA_TRY(f.OptionalIntIn("port", 0, 65535)))
    metrics.port = static_cast<uint16_t>(*port);
  return f.RefuseUnknown();
}

Status ParseLimits(const json& obj, GatewayOptions& acme) {
  auto f = CA_TRY(JsonFields::Of(obj, "config.limits"));
  if (auto v = CA_TRY(f.OptionalIntIn("max_body_bytes", 1024, 1024 * 1024))) {
    acme.max_body_bytes = static_cast<size_t>(*v);
  }
  if (auto v = CA_TRY(f.OptionalInt("nonce_lifetime_seconds"))) acme.nonce_lifetime_seconds = *v;
  if (auto v = CA_TRY(f.OptionalInt("order_lifetime_seconds"))) acme.order_lifetime_seconds = *v;
  if (auto v = CA_TRY(f.OptionalInt("authz_lifetime_seconds"))) acme.authz_lifetime_seconds = *v;
  if (auto v = CA_TRY(f.OptionalInt("max_failed_validations_per_hour"))) {
    acme.max_failed_validations_per_hour = static_cast<int>(*v);
  }
  if (auto v = CA_TRY(f.OptionalInt("max_challenge_attempts"))) {
    acme.max_challenge_attempts = static_cast<int>(*v);
  }
  if (auto v = CA_TRY(f.OptionalInt("challenge_retry_seconds"))) acme.challenge_retry_seconds = *v;
  if (auto v = CA_TRY(f.OptionalIntIn("validation_answer_wait_ms", 0, 5000))) {
    acme.validation_answer_wait_ms = *v;
  }
  if (auto v = CA_TRY(f.OptionalInt("caa_recheck_seconds"))) acme.caa_recheck_seconds = *v;
  if (auto v = CA_TRY(f.OptionalIntIn("validation_workers", 1, 64))) {
    acme.validation_workers = static_cast<size_t>(*v);
  }
  if (auto v = CA_TRY(f.OptionalUint("max_identifiers"))) acme.max_identifiers = *v;
  return f.RefuseUnknown();
}

}  // namespace

namespace {

// "retention": how long expired orders and failed-validation records stay (gateway/retention.h).
Status ParseRetention(const json& object, RetentionOptions& r) {
  auto f = CA_TRY(JsonFields::Of(object, "config.retention"));
  if (auto days = CA_TRY(f.OptionalIntIn("order_days", 1, 3650)))
    r.order_retention_seconds = *days * 86400;
  if (auto hours = CA_TRY(f.OptionalIntIn("failed_validation_hours", 1, 24 * 365)))
    r.failed_validation_seconds = *hours * 3600;
  if (auto s = CA_TRY(f.OptionalIntIn("interval_seconds", 1, 86400)))
    r.interval_seconds = static_cast<int>(*s);
  return f.RefuseUnknown();
}

}  // namespace

Result<GatewayConfig> GatewayConfig::FromJson(const json& doc) {
  GatewayConfig c;
  auto f = CA_TRY(JsonFields::Of(doc, "config"));
  c.acme.base_url = CA_TRY(f.String("base_url"));
  while (c.acme.base_url.ends_with("/")) c.acme.base_url.pop_back();
  if (!c.acme.base_url.starts_with("https://")) return f.Bad("base_url", "must be an https:// URL");
  c.store_dir = CA_TRY(f.String("store"));
  c.audit_log = CA_TRY(f.OptionalString("audit_log")).value_or("");
  c.policy_store_dir = CA_TRY(f.String("policy_store"));
  c.profiles_dir = CA_TRY(f.String("profiles_dir"));
  c.acme.caa_identities = CA_TRY(f.StringList("caa_identities"));
  if (c.acme.caa_identities.empty()) return f.Bad("caa_identities", "is empty");
  c.acme.terms_of_service = CA_TRY(f.OptionalString("terms_of_service")).value_or("");
  c.acme.website = CA_TRY(f.OptionalString("website")).value_or("");
  c.acme.environment = CA_TRY(f.OptionalString("environment")).value_or(c.acme.environment);
  if (c.acme.environment != "production" && c.acme.environment != "staging")
    return f.Bad("environment", "must be production or staging");
  if (auto access = CA_TRY(f.OptionalString("staging_access"))) {
    if (c.acme.environment != "staging")
      return f.Bad("staging_access", "is for a staging gateway (environment \"staging\") only");
    if (*access != "per-account" && *access != "all")
      return f.Bad("staging_access", "must be per-account or all");
    c.acme.staging_access = *access;
  }

  if (const json* listen = CA_TRY(f.OptionalObject("listen")))
    CA_TRY_STATUS(ParseListen(*listen, c.http));
  if (const json* metrics = CA_TRY(f.OptionalObject("metrics")))
    CA_TRY_STATUS(ParseMetrics(*metrics, c.metrics));

  const json* tls_object = CA_TRY(f.Object("tls"));
  auto tls = CA_TRY(JsonFields::Of(*tls_object, "config.tls"));
  c.tls_cert_path = CA_TRY(tls.String("cert"));
  c.tls_key_path = CA_TRY(tls.String("key"));
  CA_TRY_STATUS(tls.RefuseUnknown());

  const json* engine_object = CA_TRY(f.Object("engine"));
  auto engine = CA_TRY(JsonFields::Of(*engine_object, "config.engine"));
  auto socket = CA_TRY(engine.OptionalString("socket"));
  auto endpoints = CA_TRY(engine.OptionalStringList("endpoints"));
  if (socket.has_value() == endpoints.has_value())
    return engine.Bad("socket", "set exactly one of socket and endpoints");
  c.engine.endpoints = endpoints ? *endpoints : std::vector<std::string>{*socket};
  if (c.engine.endpoints.empty()) return engine.Bad("endpoints", "is empty");
  for (const auto& e : endpoints.value_or(std::vector<std::string>{})) {
    if (auto ok = engine::api::CheckEndpoint(e); !ok)
      return engine.Bad("endpoints", ok.error().message);
  }
  c.engine.client_cert = CA_TRY(engine.String("client_cert"));
  c.engine.client_key = CA_TRY(engine.String("client_key"));
  c.engine.fingerprint = CA_TRY(engine.String("fingerprint"));
  c.engine.more_fingerprints =
      CA_TRY(engine.OptionalStringList("peer_fingerprints")).value_or(std::vector<std::string>{});
  CA_TRY_STATUS(engine.RefuseUnknown());

  // The validation section is read by gateway/validation/config.cpp.
  if (const json* validation = CA_TRY(f.OptionalObject("validation"))) c.validation = *validation;
  if (!c.validation.contains("caa_identities"))
    c.validation["caa_identities"] = c.acme.caa_identities;

  if (const json* limits = CA_TRY(f.OptionalObject("limits")))
    CA_TRY_STATUS(ParseLimits(*limits, c.acme));
  // Without request workers, POSTs run on libmicrohttpd's polling threads: a challenge POST must
  // not hold one (and the connections pinned to it) while its validation runs.
  if (c.http.request_workers == 0) c.acme.validation_answer_wait_ms = 0;
  if (auto mb = CA_TRY(f.OptionalIntIn("store_map_size_mb", 1, 1 << 20)))
    c.store_options.map_size = static_cast<size_t>(*mb) << 20;
  if (const json* retention = CA_TRY(f.OptionalObject("retention")))
    CA_TRY_STATUS(ParseRetention(*retention, c.retention));
  // Gateways of a pair (issue 20): nonces any of them verifies (gateway/nonce.h).
  c.nonce_key_file = CA_TRY(f.OptionalString("nonce_key_file")).value_or("");
  if (auto id = CA_TRY(f.OptionalString("gateway_id"))) {
    if (!ValidGatewayId(*id)) return f.Bad("gateway_id", "expected 1..32 of [A-Za-z0-9._-]");
    c.acme.gateway_id = *id;
  } else {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) c.acme.gateway_id = host;
    if (c.acme.gateway_id.size() > 32) c.acme.gateway_id.resize(32);
    if (!ValidGatewayId(c.acme.gateway_id)) c.acme.gateway_id = "gateway";
  }
  CA_TRY_STATUS(f.RefuseUnknown());
  return c;
}

Result<GatewayConfig> GatewayConfig::Load(const std::string& path) {
  auto text = CA_TRY(ossl::ReadFile(path));
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded())
    return Fail(ErrorCode::kInvalidArgument, "config: " + path + " is not valid JSON");
  auto c = CA_TRY(FromJson(doc));
  c.http.tls_cert_pem = CA_TRY(ossl::ReadFile(c.tls_cert_path));
  c.http.tls_key_pem = CA_TRY(ossl::ReadFile(c.tls_key_path));
  if (!c.nonce_key_file.empty())
    c.acme.shared_nonce_key = CA_TRY(LoadNonceKeyFile(c.nonce_key_file));
  return c;
}

}  // namespace ca::gateway
