// Entry point for the ACME server: validates a challenge or checks CAA from every configured
// vantage point (in parallel) and applies the quorum (ACME-6). Synchronous and thread-safe;
// the gateway runs it off the HTTP threads on its validation workers (gateway/challenge_validations.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/validation/caa.h"
#include "gateway/validation/config.h"
#include "gateway/validation/dns_client.h"
#include "gateway/validation/outcome.h"
#include "gateway/validation/perspective.h"

namespace ca::gateway::validation {

struct ChallengeRequest {
  ChallengeType type = ChallengeType::kHttp01;
  std::string identifier;         // DNS identifier value; "*.example.com" only with dns-01
  std::string token;              // the challenge token (base64url)
  std::string key_authorization;  // token + "." + base64url(JWK thumbprint), see KeyAuthorization()
  std::string account_uri;        // for CAA accounturi when check_caa
  bool check_caa = false;  // also check CAA (with validationmethods = type) from each vantage point
};

// token + "." + thumbprint (RFC 8555 §8.1); the thumbprint is base64url(SHA-256(JWK)) per RFC 7638.
std::string KeyAuthorization(std::string_view token, std::string_view jwk_thumbprint_b64url);

class Validator {
 public:
  // Fails (kInvalidArgument) when config.Check() does.
  static Result<std::shared_ptr<const Validator>> Create(ValidatorConfig config);

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
  Outcome RunEverywhere(Check check, Clock::time_point deadline) const;

  ValidatorConfig config_;
  std::vector<VantagePoint> vantage_points_;
  std::vector<DnsClient> dns_;  // one per vantage point
};

}  // namespace ca::gateway::validation
