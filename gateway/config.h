// ca-gateway configuration file (JSON). Example in gateway/README.md.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "common/result.h"
#include "gateway/acme_server.h"
#include "gateway/http_server.h"
#include "gateway/retention.h"
#include "gateway/store.h"

namespace ca::gateway {

struct EngineSettings {
  // "socket" (one endpoint, as before) or "endpoints" (a pair, issue 20: this node's socket and the
  // peer's "tcp:host:port", tried in order from the last that answered: engine/api/client.h).
  std::vector<std::string> endpoints;
  std::string client_cert;
  std::string client_key;
  std::string fingerprint;  // pinned SHA-256 of the engine's channel certificate
  std::vector<std::string>
      more_fingerprints;  // "peer_fingerprints": the other engine's, if its own
};

struct GatewayConfig {
  HttpServerOptions http;  // tls_* hold the PEM text once loaded
  std::string tls_cert_path, tls_key_path;
  MetricsListenOptions metrics;  // GET /metrics, never on the ACME port
  GatewayOptions acme;
  std::string store_dir;       // the gateway's LMDB store
  std::string audit_log;       // refused issuance requests (AcmeServer::SetRefusalAudit); "" = none
  StoreOptions store_options;  // "store_map_size_mb"
  RetentionOptions
      retention;  // "retention": {"order_days", "failed_validation_hours", "interval_seconds"}
  std::string policy_store_dir;  // read-only
  std::string profiles_dir;      // certificate profiles of the environment (the engine's)
  std::string nonce_key_file;    // the pair's shared nonce key (gateway/nonce.h); "" = per process
  EngineSettings engine;
  nlohmann::json validation = nlohmann::json::object();  // ca_validation's "validation" object

  // Parses the JSON document; unknown keys and missing required keys are errors (kInvalidArgument).
  static Result<GatewayConfig> FromJson(const nlohmann::json& doc);
  // Reads the file and the TLS certificate and key it points to.
  static Result<GatewayConfig> Load(const std::string& path);
};

}  // namespace ca::gateway
