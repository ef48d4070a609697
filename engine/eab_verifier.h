// External Account Binding verification inside the HSM (R21): the external account's MAC key is
// stored wrapped to the token's unwrapping key (profiles/policy/mac_key.h); it is unwrapped into a
// sensitive session object and the HMAC computed by the token (hsm::Token::
// HmacSha256WithWrappedKey), so neither the gateway nor the engine ever holds a MAC key in clear.
#pragma once

#include <memory>
#include <string>

#include "engine/api/contract.h"
#include "hsm/token.h"
#include "profiles/policy/store.h"

namespace ca::engine {

class EabVerifier {
 public:
  // `label`: the unwrapping key on `token` (ceremony `mac-wrap`). Fails if it is not there.
  static Result<std::unique_ptr<EabVerifier>> Open(std::shared_ptr<hsm::Token> token,
                                                   std::string label);

  // Verified only when the KeyID is known, its wrapped key carries the binding MAC of that KeyID
  // (a record copied to another KeyID fails) and the MAC matches (constant-time compares). An
  // unknown KeyID costs the same HSM work (a decoy record). Errors: the token is unavailable.
  Result<bool> Verify(const profiles::policy::PolicySnapshot& snapshot,
                      const engine::api::VerifyExternalAccountBindingRequest& request);

 private:
  EabVerifier(std::shared_ptr<hsm::Token> token, std::string label, std::string decoy)
      : token_(std::move(token)), label_(std::move(label)), decoy_(std::move(decoy)) {}
  std::shared_ptr<hsm::Token> token_;
  std::string label_;
  std::string decoy_;  // a wrapped MAC key of no external account
};

}  // namespace ca::engine
