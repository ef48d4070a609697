// What every ACME handler shares: the request/response types, the server options, one
// HandlerContext (ports, store, nonces, key cache, metrics, validation scheduler) and the
// per-request RequestState. Handlers are free functions (gateway/handlers.h), one file per
// concern; acme_server.cpp routes to them.
#pragma once

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "engine/api/contract.h"
#include "gateway/jws.h"
#include "gateway/ports.h"
#include "gateway/problems.h"
#include "gateway/store.h"
#include "profiles/issuance/profile.h"

namespace ca::gateway {

class AccountKeyCache;
class AcmeMetrics;
class ChallengeValidations;
class NonceService;

struct HttpRequest {
  std::string method;  // GET, HEAD, POST, ...
  std::string path;    // without query string
  std::string content_type;
  std::string body;
  bool body_too_large = false;  // the transport stopped reading at the size limit
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Filled for logs and metrics.
  std::string endpoint;
  nlohmann::json log_fields = nlohmann::json::object();
};

struct GatewayOptions {
  std::string base_url;  // "https://acme.example:443", no trailing slash
  std::string terms_of_service;
  std::string website;
  std::vector<std::string> caa_identities;
  std::string environment = "production";  // or "staging"
  // Staging only: "per-account" (the RA grants it per external account, `ca-ra ext-account update
  // KID --staging yes`) or "all" (every external account in good standing).
  std::string staging_access = "per-account";
  // The environment's certificate profiles (profiles/data/<environment>, the engine's too): the
  // directory's meta.profiles (each enabled profile with its data file's description), and the
  // subscriber key rule at finalize comes from the order's profile.
  std::map<profiles::policy::ProfileId, profiles::issuance::Profile> certificate_profiles;
  int64_t nonce_lifetime_seconds = 3600;
  // Gateways of a pair (issue 20): the shared nonce key (config "nonce_key_file", loaded by
  // GatewayConfig::Load) makes nonces verifiable by every gateway, checked on the wall clock and
  // redeemed in the ACME store (gateway/nonce.h). Unset: a random key per process (single box).
  std::optional<Bytes> shared_nonce_key;
  std::string gateway_id;  // config "gateway_id" (default: the host name); in shared nonces
  size_t max_body_bytes = 64 * 1024;
  size_t max_identifiers = 100;
  int64_t order_lifetime_seconds = 7 * 86400;
  int64_t authz_lifetime_seconds = 30 * 86400;
  int max_failed_validations_per_hour = 5;
  int max_challenge_attempts = 20;
  int64_t challenge_retry_seconds = 3;  // real time, not the injected clock
  // How long a challenge POST that starts a validation waits for its first attempt to end, so that
  // it answers valid or invalid rather than processing (0: never waits). On request workers only.
  int64_t validation_answer_wait_ms = 250;
  int64_t caa_recheck_seconds = 8 * 3600;
  size_t validation_workers = 4;
};

using Clock = std::function<int64_t()>;  // unix seconds
using Outcome = ProblemOr<HttpResponse>;

// Owned by AcmeServer; handlers receive it by reference.
struct HandlerContext {
  const GatewayOptions& options;
  const AcmeStore& store;
  PolicyPort& policy;
  IssuerPort& issuer;
  ValidatorPort& validator;
  Clock clock;
  NonceService& nonces;
  AccountKeyCache& account_keys;
  AcmeMetrics& metrics;
  ChallengeValidations& validations;

  std::string Url(const std::string& path) const { return options.base_url + path; }
  engine::api::CaEnvironment Environment() const;
};

// One request: its endpoint name (logs, metrics), the authenticated account and the key that
// verified its JWS (the account's current key; finalize refuses it in a CSR), the verifying jwk
// when the JWS carried one, and log fields the handlers add.
struct RequestState {
  std::string endpoint;
  std::optional<AccountRecord> account;
  std::shared_ptr<EVP_PKEY> account_key;
  nlohmann::json jwk;
  nlohmann::json log = nlohmann::json::object();
};

// Small helpers every handler uses (handler_context.cpp).
std::unexpected<Problem> Err(ProblemKind kind, std::string detail);
// Logs the error; the client sees a generic serverInternal problem.
std::unexpected<Problem> Internal(const Error& e);
// 503 with Retry-After: the signing engine did not answer.
std::unexpected<Problem> EngineUnavailable(std::string detail);
HttpResponse JsonResponse(int status, const nlohmann::json& body);
std::string NewId();                  // 128 random bits, base64url
bool ValidId(const std::string& id);  // the resource ids this server hands out
// The JWS payload as a JSON object (not POST-as-GET).
ProblemOr<nlohmann::json> PayloadObject(const Jws& jws);

}  // namespace ca::gateway
