// The ledger: what every external account did, as the hash-chained audit trail tells it (ANSSI R49,
// R50). It is built only from the audit files (common/audit_log.h) that the engine, the gateway and
// the RA append to, read-only, and checked link by link while it reads them: a report or a
// dashboard never shows an event whose chain does not verify.
//
// Sources (one AuditTrail per file, fed incrementally: a dashboard polls, a report reads once):
//   engine.jsonl   "issued" (certificate), "revoked" (one serial), "mass_revocation_applied"
//                  (the serials of an account-wide or RA revocation)
//   gateway.jsonl  "issuance_refused" (problem + result code; rateLimited counts as a rate-limit
//                  refusal), "validation_failed" (challenge type, name, result code)
//   gateway-staging.jsonl  the same from the staging gateway (CA-8): failures of environment
//                  "staging" (its entries name no environment: the file says it)
//   ra.jsonl       "policy_change" (the policy store's audit records: status, domains, profiles,
//                  challenges, MAC key regenerated, ...)
//
// Accounts are keyed by external account KeyID (kid); a policy change about an ACME account or a
// domain belongs to the kid that owns it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace ca::reports {

// The staging service's environment (CA-8): its test certificates and failures are shown apart
// from production's and never counted with them (reports, dashboard).
inline constexpr std::string_view kStagingEnvironment = "staging";

struct CertificateEntry {
  std::string environment;  // "production" or "staging" (engine::api::CaEnvironmentName)
  std::string serial_hex;   // canonical (pki::Serial)
  std::string external_account_kid;
  std::string acme_account_id;
  std::string order_id;
  std::string profile;             // a policy::ProfileName ("SSL", ...) or an operator-defined one
  std::vector<std::string> names;  // as issued, sorted
  int64_t not_before = 0;          // unix seconds
  int64_t not_after = 0;
  int64_t issued_at = 0;  // the "issued" entry's ts
  bool revoked = false;
  int64_t revoked_at = 0;
  int reason = 0;           // RFC 5280 CRLReason code
  std::string reason_name;  // "keyCompromise", ...

  // Not revoked (by `now`: a report for a past period counts a certificate revoked after it as
  // valid then) and now within [not_before, not_after].
  bool ValidAt(int64_t now) const;
};

enum class FailureKind { kValidation, kRefused, kRateLimited };
std::string_view FailureKindName(FailureKind kind);  // "validation", "refused", "rate_limited"

struct FailureEntry {
  std::string environment;  // "production" (gateway.jsonl) or "staging" (gateway-staging.jsonl)
  int64_t at = 0;
  FailureKind kind = FailureKind::kRefused;
  std::string external_account_kid;
  std::string acme_account_id;
  std::string name;         // the identifier concerned, when known
  std::string challenge;    // "http-01", ... (validation failures)
  std::string result_code;  // the operator's result code (seed 003), e.g. "ACME_DNS_CHALLENGE_FAILED"
  std::string problem;      // ACME problem type URN
  std::string detail;
};

struct ChangeEntry {
  int64_t at = 0;
  std::string actor;
  std::string action;       // "ext-account.suspend", "domain.add", "ext-account.regenerate-mac", ...
  std::string object_type;  // "external_account", "domain", "acme_account", ...
  std::string object_id;
  std::string domain;
  nlohmann::json before;  // null when created
  nlohmann::json after;   // null when removed
};

// Everything the ledger knows about one external account.
struct AccountHistory {
  std::string kid;
  std::vector<CertificateEntry> certificates;  // issuance order
  std::vector<FailureEntry> failures;          // time order
  std::vector<ChangeEntry> changes;            // time order
};

// Where the ledger reads from. Empty paths are skipped (a test may give one file).
struct AuditSources {
  std::string engine;           // STATE/audit/engine.jsonl
  std::string gateway;          // STATE/audit/gateway.jsonl
  std::string ra;               // STATE/audit/ra.jsonl
  std::string gateway_staging;  // STATE/audit/gateway-staging.jsonl (setup.conf STAGING on)
};

class Ledger {
 public:
  static Result<Ledger> Open(AuditSources sources);
  Ledger(Ledger&&) noexcept;
  Ledger& operator=(Ledger&&) noexcept;
  ~Ledger();

  // Reads what was appended to each file since the last call (complete lines only; a partial last
  // line waits for the next call) and verifies each entry's hash and its link to the previous one.
  // Returns how many entries were taken in. kCorrupt when a chain breaks: the ledger keeps what it
  // had before the break and refuses further input from that file.
  Result<size_t> Refresh();
  // Bumped by every Refresh that took in at least one entry (a cheap "did anything change").
  uint64_t version() const;

  // The history of one account (empty history for an account the trail never mentions).
  AccountHistory History(std::string_view kid) const;
  // Every kid that appears in the trail, sorted.
  std::vector<std::string> Accounts() const;
  // The certificate with this serial, in any environment, if the trail has it.
  std::optional<CertificateEntry> FindCertificate(std::string_view serial_hex) const;
  // One line per file whose chain broke ("<path> line N: what"); empty while all verify. A
  // dashboard shows them: what it displays stops at the break.
  std::vector<std::string> Problems() const;

 private:
  struct State;
  explicit Ledger(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace ca::reports
