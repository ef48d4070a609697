// Entry point for the ACME server: validates a challenge or checks CAA from every configured
// vantage point (in parallel) and applies the quorum (ACME-6). Synchronous and thread-safe;
// the gateway runs it off the HTTP threads on its validation workers
// (gateway/challenge_validations.h).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/validation/agent_protocol.h"
#include "gateway/validation/caa.h"
#include "gateway/validation/config.h"
#include "gateway/validation/dns_client.h"
#include "gateway/validation/outcome.h"
#include "gateway/validation/perspective.h"
#include "gateway/validation/request.h"

namespace ca::gateway::validation {

// token + "." + thumbprint (RFC 8555 §8.1); the thumbprint is base64url(SHA-256(JWK)) per RFC 7638.
std::string KeyAuthorization(std::string_view token, std::string_view jwk_thumbprint_b64url);

// Asks one remote agent (remote_client.h: libcurl, mutual TLS). Never fails: an agent that cannot
// be reached or answers nonsense is an Outcome::Unavailable naming the agent.
using RemoteCall = std::function<AgentAnswer(const RemoteAgent& agent, const AgentRequest& request,
                                             Clock::time_point deadline)>;

// One challenge check (and CAA when request.check_caa) from one perspective: what each local
// vantage point of Validator::ValidateChallenge runs, and what a ca-validation-agent runs for a
// request. `name` is the normalized identifier without "*."; `request` passed CheckRequest.
Outcome CheckChallengeFrom(const Perspective& p, const std::string& name,
                           const ChallengeRequest& request);

class Validator {
 public:
  // Fails (kInvalidArgument) when config.Check() does, or when remote agents are configured
  // without a way to ask them.
  static Result<std::shared_ptr<const Validator>> Create(ValidatorConfig config,
                                                         RemoteCall remote = {});

  // Error only for a request that cannot be validated at all (bad identifier, token, wildcard with
  // a method other than dns-01); network results are Outcomes.
  Result<Outcome> ValidateChallenge(const ChallengeRequest& request,
                                    Clock::time_point deadline) const;

  // CAA for one identifier of an order (call it for every name independently).
  Result<Outcome> CheckCaa(const std::string& identifier, const CaaRequest& request,
                           Clock::time_point deadline) const;

  // The input checks ValidateChallenge applies, for callers that want them before queueing.
  static Status CheckRequest(const ChallengeRequest& request);

  const ValidatorConfig& config() const { return config_; }

 private:
  Validator() = default;
  template <class Check>
  Outcome RunEverywhere(Check check, AgentRequest remote_request, Clock::time_point deadline) const;

  ValidatorConfig config_;
  RemoteCall remote_;
  std::vector<VantagePoint> vantage_points_;
  std::vector<DnsClient> dns_;  // one per vantage point
};

}  // namespace ca::gateway::validation
