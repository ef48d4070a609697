// The ACME protocol (RFC 8555, RFC 9773 renewalInfo, draft-ietf-acme-profiles) over a transport-
// neutral request/response: http_server.cpp feeds it from libmicrohttpd, unit tests call Handle()
// directly. This facade owns the shared state (nonces, key cache, metrics, validation workers),
// routes each request, authenticates it (authentication.cpp) and calls its handler
// (handlers.h: one file per concern). Validation runs on its own workers, never on HTTP threads.
#pragma once

#include <string>

#include "gateway/account_key_cache.h"
#include "gateway/acme_metrics.h"
#include "gateway/challenge_validations.h"
#include "gateway/handler_context.h"
#include "gateway/nonce.h"
#include "common/audit_log.h"
#include "gateway/ports.h"
#include "gateway/store.h"

namespace ca::gateway {

class AcmeServer {
 public:
  using Clock = gateway::Clock;  // unix seconds

  AcmeServer(GatewayOptions options, const AcmeStore& store, PolicyPort& policy, IssuerPort& issuer,
             ValidatorPort& validator, Clock clock);
  ~AcmeServer();
  AcmeServer(const AcmeServer&) = delete;
  AcmeServer& operator=(const AcmeServer&) = delete;

  HttpResponse Handle(const HttpRequest& request);

  // Prometheus text exposition of the request and validation counters.
  std::string MetricsText() const { return metrics_.Text(store_); }

  // Waits until no validation is queued or running (tests).
  void WaitForValidationsIdle() { validations_.WaitIdle(); }

  // In the background: resumes the orders and challenges a crash left processing.
  void ResumeInterrupted() { validations_.ResumeInterrupted(); }

  // At shutdown, before the HTTP server stops: challenge POSTs waiting for their validation
  // (validation_answer_wait_ms) answer at once, so the request workers stop without delay.
  void BeginShutdown() { validations_.CancelWaits(); }

  const GatewayOptions& options() const { return options_; }

  // Refused issuance requests (newOrder, finalize, revokeCert answered with a problem other than
  // badNonce) and failed challenge validations ("validation_failed") are appended to this
  // hash-chained audit file (ca-audit verify-audit), so the audit trail holds what the CA refused
  // and why, not only the gateway's log (reports/ reads them). Optional; not owned. Set before
  // serving.
  void SetRefusalAudit(audit::AuditLog* audit) {
    refusal_audit_ = audit;
    validations_.SetAudit(audit);
  }

 private:
  Outcome Route(RequestState& ctx, const HttpRequest& request);
  Outcome RouteJws(RequestState& ctx, const HttpRequest& request, const std::string& id);
  Outcome Directory();
  void AuditRefusal(const RequestState& ctx, const Problem& problem, const std::string& result_code);

  GatewayOptions options_;
  const AcmeStore& store_;
  NonceService nonces_;
  AccountKeyCache account_keys_;
  AcmeMetrics metrics_;
  HandlerContext context_;
  audit::AuditLog* refusal_audit_ = nullptr;
  ChallengeValidations validations_;  // last: its workers stop before the rest goes
};

}  // namespace ca::gateway
