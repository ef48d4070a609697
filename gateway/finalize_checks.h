// The checks finalize makes on the order's authorizations and on the CSR's key, before it asks the
// engine (kept apart from finalize.cpp, which owns the order's state transitions).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gateway/handler_context.h"

namespace ca::gateway {

// One authorization of the order with the challenge type that validated it.
struct AuthorizedName {
  AuthzRecord authz;
  std::string method;  // "http-01", "dns-01", "tls-alpn-01"
};

// Every authorization of the order, each still valid and unexpired with its validating method. A
// deactivated, revoked or expired authorization authorizes nothing (RFC 8555 §7.5.2): the order
// becomes invalid (§7.1.6: an authorization entered a final state other than valid) and the answer
// is orderNotReady (§7.4: finalize of an order that is not ready).
ProblemOr<std::vector<AuthorizedName>> AuthorizedNames(HandlerContext& s, const OrderRecord& order,
                                                       int64_t now);

// CAA again (RFC 8659, RFC 8657: accounturi and validationmethods with the method that validated
// each authorization) for the authorizations whose CAA check is older than caa_recheck_seconds;
// returns them with their check time renewed (stored by the operation that claims the order).
ProblemOr<std::vector<AuthzRecord>> RecheckCaa(HandlerContext& s, const AccountRecord& account,
                                               const std::vector<AuthorizedName>& authorized,
                                               int64_t now);

// CheckCsr (csr.h) with the account's own key refused (RFC 8555 §11.1): `account_key` is the key
// that verified this request's JWS (authentication.cpp), i.e. the account's current key.
ProblemOr<void> CheckFinalizeCsr(HandlerContext& s, EVP_PKEY* account_key,
                                 std::span<const uint8_t> der, const OrderRecord& order);

}  // namespace ca::gateway
