// What the ACME server asks the validator to check for one challenge.
#pragma once

#include <string>

#include "gateway/validation/outcome.h"

namespace ca::gateway::validation {

struct ChallengeRequest {
  ChallengeType type = ChallengeType::kHttp01;
  std::string identifier;         // DNS identifier value; "*.example.com" only with dns-01
  std::string token;              // the challenge token (base64url)
  std::string key_authorization;  // token + "." + base64url(JWK thumbprint), see KeyAuthorization()
  std::string account_uri;        // for CAA accounturi when check_caa
  bool check_caa = false;  // also check CAA (with validationmethods = type) from each vantage point
};

}  // namespace ca::gateway::validation
