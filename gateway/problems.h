// The one place where gateway failures become ACME problem documents (RFC 8555 §6.7, RFC 7807):
// a closed set of gateway error kinds, each with its problem type and HTTP status, plus the
// mappings from policy result codes and engine errors.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/api/contract.h"

namespace ca::gateway {

enum class ProblemKind {
  kMalformed,              // 400 malformed
  kNotFound,               // 404 malformed: no such resource
  kMethodNotAllowed,       // 405 malformed (with Allow)
  kUnsupportedMediaType,   // 415 malformed
  kPayloadTooLarge,        // 413 malformed
  kConflict,               // 409 malformed (keyChange: key in use; Location carries the account)
  kBadNonce,               // 400 badNonce
  kBadSignatureAlgorithm,  // 400 badSignatureAlgorithm (+ "algorithms")
  kBadPublicKey,           // 400 badPublicKey
  kUnauthorized,           // 403 unauthorized
  kAccountDoesNotExist,    // 400 accountDoesNotExist
  kExternalAccountRequired,// 400 externalAccountRequired
  kRejectedIdentifier,     // 400 rejectedIdentifier
  kUnsupportedIdentifier,  // 400 unsupportedIdentifier
  kInvalidProfile,         // 400 invalidProfile (draft-ietf-acme-profiles)
  kInvalidContact,         // 400 invalidContact
  kUnsupportedContact,     // 400 unsupportedContact
  kBadCsr,                 // 400 badCSR
  kOrderNotReady,          // 403 orderNotReady
  kRateLimited,            // 429 rateLimited (+ Retry-After)
  kCaa,                    // 403 caa
  kBadRevocationReason,    // 400 badRevocationReason
  kAlreadyRevoked,         // 400 alreadyRevoked
  kIncorrectResponse,      // challenge errors (reported inside challenge objects)
  kConnection,
  kDns,
  kTls,
  kUnavailable,            // 503 serverInternal (+ Retry-After): engine down, retry later
  kServerInternal,         // 500 serverInternal
};

struct Subproblem {
  ProblemKind kind;
  std::string detail;
  std::string dns_name;  // identifier {"type":"dns","value":dns_name}
};

struct Problem {
  ProblemKind kind = ProblemKind::kServerInternal;
  std::string detail;
  std::vector<Subproblem> subproblems;
  std::optional<int> retry_after_seconds;
  std::string location;  // kConflict: the URL of the account holding the key
};

inline Problem MakeProblem(ProblemKind kind, std::string detail) {
  return Problem{kind, std::move(detail), {}, std::nullopt, {}};
}

// "urn:ietf:params:acme:error:<name>".
std::string ProblemType(ProblemKind kind);
// The operator's result code a detail starts with ("INVALID_DNSCAA: ..." -> "INVALID_DNSCAA"); ""
// when the detail does not start with one (upper case and '_' up to the first ':').
std::string ResultCodeOf(std::string_view detail);
int ProblemHttpStatus(ProblemKind kind);
// orderNotReady (RFC 8555 §7.4) for an order found in `status` (its name: "pending", "invalid",
// ...) with its stored `order_error` (null unless invalid). The detail starts with the order's own
// result code when its error carries one (ACME_DEACTIVATED: the client deactivated one of its
// authorizations), else with ACME_ORDER_NOT_READ (CTD "Result code").
Problem OrderNotReady(std::string_view status, const nlohmann::json& order_error);
// The problem document: {"type","detail","status", "subproblems"?, "algorithms"? }.
nlohmann::json ProblemToJson(const Problem& problem);

// JWS algorithms the gateway verifies on the outer JWS (listed in badSignatureAlgorithm problems).
const std::vector<std::string>& SupportedJwsAlgorithms();

// A policy refusal (operator result code such as DOMAIN_NOT_FOUND, the offending name, a detail)
// as a problem whose detail starts with the result code: "DOMAIN_NOT_FOUND: foo.example.com".
// Identifier-level codes give rejectedIdentifier with one subproblem; account-level codes give
// unauthorized; unknown accounts give accountDoesNotExist.
Problem ProblemForResultCode(std::string_view result_code, std::string_view name,
                             std::string_view detail);

// An engine failure as a problem (policy refusals go through ProblemForResultCode).
Problem ProblemForEngineError(const engine::api::EngineError& error);

}  // namespace ca::gateway
