// The registration authority's model (POL-1…POL-6): organizations, external accounts, domain
// entries, per-ACME-account restrictions, mass revocations and audit records, with their JSON form
// (the value stored in the policy store and printed by `ca-ra --json`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "profiles/policy/profile_id.h"

namespace ca::profiles::policy {

enum class OrgStatus { kPending, kValid, kInvalid };
enum class ExternalAccountStatus { kPending, kActive, kSuspended, kDeactivated, kRevoked };
enum class AcmeAccountStatus { kActive, kSuspended, kDeactivated, kRevoked };
enum class DomainStatus { kPending, kValid, kInvalid };

std::string_view OrgStatusName(OrgStatus s);  // "pending", "valid", "invalid"
std::string_view ExternalAccountStatusName(ExternalAccountStatus s);  // "pending", "active", ...
std::string_view AcmeAccountStatusName(AcmeAccountStatus s);
std::string_view DomainStatusName(DomainStatus s);
std::optional<OrgStatus> ParseOrgStatus(std::string_view s);
std::optional<ExternalAccountStatus> ParseExternalAccountStatus(std::string_view s);
std::optional<AcmeAccountStatus> ParseAcmeAccountStatus(std::string_view s);
std::optional<DomainStatus> ParseDomainStatus(std::string_view s);

// How often the account's holder gets its periodic report (ANSSI R49; reports/tools/ca-report).
enum class ReportPeriod { kWeekly, kMonthly, kOff };
std::string_view ReportPeriodName(ReportPeriod p);  // "weekly", "monthly", "off"
std::optional<ReportPeriod> ParseReportPeriod(std::string_view s);

// The three challenge types of ACME-3; anything else is refused.
inline constexpr std::string_view kChallengeTypes[] = {"http-01", "dns-01", "tls-alpn-01"};
bool IsChallengeType(std::string_view s);

struct Organization {
  std::string id;               // UUID v4 chosen by the RA
  std::string name;             // goes into the OV subject (O=)
  std::string country;          // ISO 3166 alpha-2, upper case (C=)
  std::string locality;         // (L=)
  std::string registration_id;  // e.g. SIRET
  OrgStatus status = OrgStatus::kPending;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct ExternalAccountLimits {
  uint32_t max_acme_accounts = 10;  // ACME accounts that may be bound with this KeyID
  uint32_t orders_per_hour = 300;   // enforced by the gateway
};

// MAC key rotation (ANSSI R9; profiles/policy/admin/mac_rotation.h). Records stored before it
// existed: all defaults (the key's age then counts from created_at).
struct MacRotation {
  int64_t key_issued_at = 0;            // when the current MAC key was made; 0: created_at
  std::optional<uint32_t> period_days;  // this account's period; absent: the RA's default; 0: never
  std::string recipient_key_pem;        // the requester's RSA public key rotated keys are sealed to
  int64_t announced_at = 0;  // the rotation time the contacts were told of; 0: no notice yet
  std::string undelivered;   // a rotated key sealed to recipient_key_pem (base64), until mailed
};

struct ExternalAccount {
  std::string kid;  // KeyID, UUID v4
  std::string organization_id;
  std::vector<std::string> contacts;  // named person(s) responsible, at least one
  int64_t not_before = 0;             // unix seconds, inclusive
  int64_t not_after = 0;              // unix seconds, inclusive (last valid second, as in X.509)
  std::vector<ProfileId> allowed_profiles;      // first one is the default for new ACME accounts
  std::vector<std::string> allowed_challenges;  // subset of kChallengeTypes
  ExternalAccountStatus status = ExternalAccountStatus::kPending;
  uint32_t mac_regenerations = 0;  // how many times the MAC key was regenerated
  std::string mac_wrapped;  // base64url(nonce 12 || ciphertext 32 || tag 16), AES-256-GCM, AAD=kid
  ExternalAccountLimits limits;
  // The dashboard credential's SHA-256 (profiles/policy/dashboard_credential.h), empty when none
  // was issued; never in the public JSON.
  std::string dashboard_credential_sha256;
  int64_t dashboard_credential_issued_at = 0;
  ReportPeriod report_period = ReportPeriod::kWeekly;  // records stored before it existed: weekly
  // May use the staging ACME service when the operator opens it per account (CA-8, ANSSI R53;
  // decision.h AccountFacts::staging_grant_required). Records stored before it existed: false.
  bool staging = false;
  MacRotation mac_rotation;
  int64_t created_at = 0;
  int64_t updated_at = 0;

  // Validity is [not_before, not_after], both inclusive.
  bool Expired(int64_t now) const { return now > not_after; }
  bool NotYetValid(int64_t now) const { return now < not_before; }
  bool AllowsProfile(ProfileId p) const;
  bool AllowsChallenge(std::string_view type) const;
  // The status as shown to operators: "expired" when the stored status is active but the validity
  // has ended (expiry is derived, never stored).
  std::string DisplayStatus(int64_t now) const;
};

struct DomainEntry {
  std::string fqdn;  // normalised A-label form; "*.example.com" for a wildcard entry
  std::string external_account_kid;
  std::string organization_id;
  DomainStatus status = DomainStatus::kPending;
  bool include_subdomains = false;       // never honoured for SSL_RGS
  std::vector<std::string> dcv_methods;  // wildcard entries: exactly {"dns-01"}
  int64_t created_at = 0;
  int64_t updated_at = 0;

  bool wildcard() const { return fqdn.starts_with("*."); }
};

// The RA's view of one ACME account (created by the gateway in its own store): lifecycle status and
// optional restrictions, keyed by the ACME account id.
struct AcmeAccountPolicy {
  std::string acme_account_id;
  std::string external_account_kid;
  AcmeAccountStatus status = AcmeAccountStatus::kActive;
  std::optional<ProfileId> profile;  // overrides the profile the gateway recorded at creation
  std::vector<std::string> domains;  // non-empty: only these domain entries (fqdn) may be used
  int64_t not_after = 0;             // 0: no expiry of its own; otherwise last valid second
  int64_t updated_at = 0;
};

// A revocation of an ACME account or (acme_account_id empty) an external account that the engine
// must apply to every unexpired certificate of the account (REV-2). `seq` orders them.
// A revocation the RA recorded for the engine to apply (engine/revocation.cpp): of one certificate
// when serial_hex is set, else of every certificate of one ACME account, else of every ACME account
// of the external account.
struct MassRevocation {
  uint64_t seq = 0;
  std::string serial_hex;       // canonical (pki::Serial); empty: an account-wide revocation
  std::string acme_account_id;  // empty: every ACME account of the external account
  std::string external_account_kid;
  int reason = 9;           // RFC 5280 CRLReason code (privilegeWithdrawn by default)
  std::string reason_name;  // "privilegeWithdrawn", ...
  int64_t recorded_at = 0;
  uint64_t policy_version = 0;  // the snapshot version whose write recorded it
  std::string actor;
};

struct AuditRecord {
  uint64_t seq = 0;
  int64_t time = 0;
  std::string actor;
  std::string action;       // "org.create", "ext-account.suspend", ...
  std::string object_type;  // "organization", "external_account", "domain", "acme_account"
  std::string object_id;
  std::string account;    // external account kid or ACME account id concerned (filter key)
  std::string domain;     // domain concerned, if any (filter key)
  nlohmann::json before;  // null when created
  nlohmann::json after;   // null when removed
  uint64_t policy_version = 0;
};

// RFC 5280 reason names (pki/revocation_reason.h) accepted for mass revocations: all but the
// CA-level cACompromise and aACompromise.
std::optional<int> ParseRevocationReason(std::string_view name);
std::string_view RevocationReasonName(int code);

// JSON forms. FromJson fails with kCorrupt on a malformed stored record.
nlohmann::json ToJson(const Organization& o);
nlohmann::json ToJson(const ExternalAccount& a);  // includes mac_wrapped
nlohmann::json ToPublicJson(const ExternalAccount& a,
                            int64_t now);  // no key material; derived status
nlohmann::json ToJson(const DomainEntry& d);
nlohmann::json ToJson(const AcmeAccountPolicy& p);
nlohmann::json ToJson(const MassRevocation& m);
nlohmann::json ToJson(const AuditRecord& r);
Result<Organization> OrganizationFromJson(std::string_view text);
Result<ExternalAccount> ExternalAccountFromJson(std::string_view text);
Result<DomainEntry> DomainEntryFromJson(std::string_view text);
Result<AcmeAccountPolicy> AcmeAccountPolicyFromJson(std::string_view text);
Result<MassRevocation> MassRevocationFromJson(std::string_view text);
Result<AuditRecord> AuditRecordFromJson(std::string_view text);

// Unix seconds <-> "2026-11-23T02:33:34Z".
std::string FormatTime(int64_t unix_seconds);
// Accepts "YYYY-MM-DD" (midnight UTC), "YYYY-MM-DDTHH:MM:SSZ" and "@<unix seconds>".
Result<int64_t> ParseTime(std::string_view text);
// not_before plus `years` calendar years (Feb 29 maps to Mar 1 when needed), UTC.
int64_t AddYears(int64_t unix_seconds, int years);

}  // namespace ca::profiles::policy
