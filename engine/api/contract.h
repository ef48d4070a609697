// The one contract between the gateway (and operator CLIs) and the signing engine. Versioned
// messages, carried as JSON in length-prefixed frames over the authenticated channel
// (engine/api/channel.h). The gateway includes engine/api/ only, never engine internals.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "pki/revocation_reason.h"

namespace ca::engine::api {

inline constexpr int kContractVersion = 1;

enum class CaEnvironment { kProduction, kStaging };  // never mixed: separate CA instances

// Issue: the gateway has validated every identifier and checked policy at `policy_version`; the
// engine checks policy again on its own snapshot before signing (CA-2).
struct IssueRequest {
  std::string request_id;  // unique per finalize; a retried request_id returns the same certificate
  std::string order_id;
  std::string acme_account_id;
  std::string external_account_kid;
  std::string profile;             // a profiles::policy::ProfileName ("SSL", "SSL_SHORT", ...)
  std::vector<std::string> names;  // dNSName identifiers of the order, as authorised
  std::vector<uint8_t> csr_der;
  uint64_t policy_version = 0;  // the snapshot the gateway decided on (logged, compared)
  CaEnvironment environment = CaEnvironment::kProduction;
};

struct IssueResponse {
  std::string serial_hex;         // pki::Serial::Hex(): canonical lower-case, even-length hex
  std::string certificate_pem;    // leaf
  std::string chain_pem;          // leaf followed by the intermediate(s), as served to clients
  int64_t not_before = 0;         // unix seconds
  int64_t not_after = 0;
};

// Reasons travel as their RFC 5280 CRLReason integer (pki/revocation_reason.h).

struct RevokeRequest {
  std::string serial_hex;
  pki::RevocationReason reason = pki::RevocationReason::kUnspecified;
  std::string actor;  // "acme-account:<id>", "cert-key", "ra:<operator>"
  bool allow_key_compromise_upgrade = false;  // re-revoking may only upgrade to keyCompromise
  CaEnvironment environment = CaEnvironment::kProduction;
};

struct RevokeResponse {
  bool newly_revoked = false;  // false when it was already revoked (idempotent)
  int64_t revoked_at = 0;
};

// Revokes every unexpired certificate issued under an ACME account or, when acme_account_id is
// empty, under every ACME account of the external account (REV-2).
struct RevokeAllForAccountRequest {
  std::string acme_account_id;
  std::string external_account_kid;
  pki::RevocationReason reason = pki::RevocationReason::kPrivilegeWithdrawn;
  std::string actor;
  CaEnvironment environment = CaEnvironment::kProduction;
};

struct RevokeAllForAccountResponse {
  uint64_t revoked_count = 0;
};

struct GetCertificateRequest {
  std::string serial_hex;
  CaEnvironment environment = CaEnvironment::kProduction;
};

struct CertificateRecord {
  std::string serial_hex;
  std::string certificate_pem;
  std::string chain_pem;
  std::string acme_account_id;
  std::string external_account_kid;
  std::string profile;
  int64_t not_before = 0;
  int64_t not_after = 0;
  bool revoked = false;
  int64_t revoked_at = 0;
  pki::RevocationReason reason = pki::RevocationReason::kUnspecified;
};

// External Account Binding (RFC 8555 §7.3.4, R21): the engine checks the EAB JWS's MAC with the
// external account's MAC key inside the HSM (engine/eab_verifier.h); the gateway never holds a MAC
// key. An unknown KeyID and a wrong MAC get the same answer after the same work.
struct VerifyExternalAccountBindingRequest {
  std::string kid;
  std::string signing_input;  // the EAB JWS's ASCII(protected "." payload), as received
  std::vector<uint8_t> mac;   // its decoded signature
  CaEnvironment environment = CaEnvironment::kProduction;
};

struct ExternalAccountBindingVerdict {
  bool verified = false;
};

// Engine-side failures, a closed set. `result_code` carries the operator's code where one applies
// (DOMAIN_NOT_FOUND, SUSPENDED_ACCOUNT, …); the gateway turns these into ACME problems in exactly
// one place.
enum class EngineErrorKind {
  kPolicyDenied,   // policy re-check refused: result_code + name say why
  kBadCsr,         // CSR defect: weak / reused / wrong-size key, names mismatch, bad signature
  kBadRequest,     // malformed or unsupported request
  kNotFound,       // unknown serial
  kAlreadyRevoked, // re-revocation that is not an allowed upgrade
  kUnauthorized,   // channel authentication / peer not allowed
  kUnavailable,    // HSM fault, shutting down: retry later
  kInternal,
};

struct EngineError {
  EngineErrorKind kind = EngineErrorKind::kInternal;
  std::string result_code;  // operator result code or empty
  std::string name;         // offending identifier, if any
  std::string detail;       // one line for humans
};

// Engine pair (issue 20): the detail of every refusal by an engine that does not hold its lease
// (kUnavailable, "ACME_CA_ERROR", "engine standby: <holder> holds the lease engine-<env>"). A
// gateway with several engine endpoints sends the request to the next one on this prefix.
inline constexpr std::string_view kStandbyDetailPrefix = "engine standby: ";

using Request = std::variant<IssueRequest, RevokeRequest, RevokeAllForAccountRequest,
                             GetCertificateRequest, VerifyExternalAccountBindingRequest>;
using Response = std::variant<IssueResponse, RevokeResponse, RevokeAllForAccountResponse,
                              CertificateRecord, EngineError, ExternalAccountBindingVerdict>;

// Wire form: {"v":1,"type":"issue"|"revoke"|"revoke_all"|"get_certificate"|"verify_eab","body":{...}}
// for requests, {"v":1,"type":"issued"|"revoked"|"revoked_all"|"certificate"|"error"|"eab_verdict",
// "body":{...}} for responses.
nlohmann::json RequestToJson(const Request& request);
Result<Request> RequestFromJson(const nlohmann::json& json);  // kInvalidArgument on any defect
nlohmann::json ResponseToJson(const Response& response);
Result<Response> ResponseFromJson(const nlohmann::json& json);

std::string_view EngineErrorKindName(EngineErrorKind kind);
std::string_view CaEnvironmentName(CaEnvironment env);  // "production" / "staging"

}  // namespace ca::engine::api
