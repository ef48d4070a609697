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

  const GatewayOptions& options() const { return options_; }

 private:
  Outcome Route(RequestState& ctx, const HttpRequest& request);
  Outcome RouteJws(RequestState& ctx, const HttpRequest& request, const std::string& id);
  Outcome Directory();

  GatewayOptions options_;
  const AcmeStore& store_;
  NonceService nonces_;
  AccountKeyCache account_keys_;
  AcmeMetrics metrics_;
  HandlerContext context_;
  ChallengeValidations validations_;  // last: its workers stop before the rest goes
};

}  // namespace ca::gateway
