// The ACME protocol (RFC 8555, RFC 9773 renewalInfo, draft-ietf-acme-profiles) over a transport-
// neutral request/response: http_server.cpp feeds it from libmicrohttpd, unit tests call Handle()
// directly. Validation runs on the server's own worker threads, never on HTTP threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/account_key_cache.h"
#include "gateway/jws.h"
#include "gateway/lifecycle_metrics.h"
#include "gateway/nonce.h"
#include "gateway/ports.h"
#include "gateway/problems.h"
#include "gateway/store.h"

namespace ca::gateway {

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
  std::map<std::string, std::string> profiles = {
      {"SSL", "OV TLS server certificate"},
      {"SSL_RGS", "OV TLS server certificate, RGS, every FQDN listed"},
      {"WILD", "OV TLS wildcard certificate (dns-01 only)"}};
  std::string environment = "production";  // or "staging"
  int64_t nonce_lifetime_seconds = 3600;
  size_t max_body_bytes = 64 * 1024;
  size_t max_identifiers = 100;
  int64_t order_lifetime_seconds = 7 * 86400;
  int64_t authz_lifetime_seconds = 30 * 86400;
  int max_failed_validations_per_hour = 5;
  int max_challenge_attempts = 20;
  int64_t challenge_retry_seconds = 3;
  int64_t caa_recheck_seconds = 8 * 3600;
  size_t validation_workers = 4;
};

class AcmeServer {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds

  AcmeServer(GatewayOptions options, const AcmeStore& store, PolicyPort& policy, IssuerPort& issuer,
             ValidatorPort& validator, Clock clock);
  ~AcmeServer();
  AcmeServer(const AcmeServer&) = delete;
  AcmeServer& operator=(const AcmeServer&) = delete;

  HttpResponse Handle(const HttpRequest& request);

  // Prometheus text exposition of the request and validation counters.
  std::string MetricsText() const;

  // Waits until no validation is queued or running (tests).
  void WaitForValidationsIdle();

  const GatewayOptions& options() const { return options_; }

 private:
  struct Ctx;  // per-request state (authenticated account, log fields)
  using Outcome = ProblemOr<HttpResponse>;

  Outcome Route(Ctx& ctx, const HttpRequest& request);
  Outcome Directory();
  Outcome NewNonce(const HttpRequest& request);
  Outcome NewAccount(Ctx& ctx, const Jws& jws);
  Outcome AccountPost(Ctx& ctx, const Jws& jws, const std::string& id);
  Outcome OrdersList(Ctx& ctx, const Jws& jws, const std::string& id);
  Outcome KeyChange(Ctx& ctx, const Jws& jws);
  Outcome NewOrder(Ctx& ctx, const Jws& jws);
  Outcome OrderPost(Ctx& ctx, const Jws& jws, const std::string& id);
  Outcome Finalize(Ctx& ctx, const Jws& jws, const std::string& id);
  Outcome AuthzPost(Ctx& ctx, const Jws& jws, const std::string& id);
  Outcome ChallengePost(Ctx& ctx, const Jws& jws, const std::string& id);
  Outcome CertificatePost(Ctx& ctx, const Jws& jws, const std::string& serial);
  Outcome RevokeCert(Ctx& ctx, const Jws& jws);
  Outcome RenewalInfo(const std::string& cert_id);

  // JWS checks common to every POST: structure, alg, url, nonce, jwk xor kid, signature.
  // `want_jwk`: newAccount / revokeCert-by-key accept (newAccount requires) an embedded jwk.
  enum class KeyMode { kKidOnly, kJwkOnly, kEither };
  ProblemOr<Jws> Authenticate(Ctx& ctx, const HttpRequest& request, KeyMode mode);
  ProblemOr<void> RequireAccountStatus(const AccountRecord& account);
  ProblemOr<nlohmann::json> PayloadObject(const Jws& jws);

  // Rendering.
  nlohmann::json AccountJson(const AccountRecord& a) const;
  nlohmann::json OrderJson(const OrderRecord& o) const;
  Result<nlohmann::json> AuthzJson(const StoreTxn& txn, const AuthzRecord& a) const;
  nlohmann::json ChallengeJson(const ChallengeRecord& c) const;

  // State.
  Result<OrderRecord> RefreshOrder(StoreTxn& txn, OrderRecord order, bool* changed) const;
  // The order as RefreshOrder sees it now, the change stored (re-derived inside the write) when
  // there is one; nullopt when there is no such order.
  Result<std::optional<OrderRecord>> CurrentOrder(const std::string& id);
  HttpResponse Json(int status, const nlohmann::json& body) const;
  std::string Url(const std::string& path) const { return options_.base_url + path; }

  // Validation workers.
  void Enqueue(const std::string& challenge_id, int64_t not_before);
  void WorkerLoop();
  void RunValidation(const std::string& challenge_id);
  void CountRequest(const std::string& endpoint, int status);

  GatewayOptions options_;
  const AcmeStore& store_;
  PolicyPort& policy_;
  IssuerPort& issuer_;
  ValidatorPort& validator_;
  Clock clock_;
  NonceService nonces_;
  AccountKeyCache account_keys_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::pair<int64_t, std::string>> queue_;  // (not before, challenge id)
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;

  mutable std::mutex metrics_mu_;
  std::map<std::pair<std::string, int>, uint64_t> request_counts_;
  std::map<std::pair<std::string, std::string>, uint64_t> validation_counts_;
  LifecycleMetrics lifecycle_;  // certificates issued and revoked
};

}  // namespace ca::gateway
