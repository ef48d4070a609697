// The periodic report of one external account (ANSSI R49): what happened in [since, until] and
// where the account stands at `until`, computed from the ledger (reports/ledger.h) and the
// account's policy record. Rendered as HTML (the mail body) and CSV (the attachment and the
// operator's file) by reports/render.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "reports/ledger.h"

namespace ca::reports {

struct AccountSummary {  // from the policy store at report time
  std::string kid;
  std::string organization;           // organization name (or id)
  std::string status;                 // ExternalAccount::DisplayStatus
  std::vector<std::string> contacts;  // mail recipients (the addresses among them)
  std::vector<std::string> domains;   // "fqdn (status)" lines
};

// The staging service's activity (CA-8): test certificates of the staging hierarchy and the
// staging gateway's failures, reported apart so that they never count as production's.
struct StagingActivity {
  size_t issued = 0, revoked = 0, valid_now = 0, failures = 0;  // as production's, below
  std::vector<CertificateEntry> issued_in_period;
  std::vector<CertificateEntry> revoked_in_period;
  bool Any() const { return issued + revoked + valid_now + failures > 0; }
};

// Every count and certificate list is production's; staging's are in `staging`. `failures` lists
// both environments (FailureEntry::environment says which), its counts are production's.
struct AccountReport {
  AccountSummary account;
  int64_t since = 0, until = 0;  // unix seconds, inclusive
  int64_t generated_at = 0;

  std::map<std::string, size_t> issued_by_profile;  // certificates issued in the period
  std::map<std::string, size_t> revoked_by_reason;  // revoked in the period, by reason name
  size_t issued = 0, revoked = 0;
  size_t valid_now = 0;                          // valid at `until`
  std::vector<CertificateEntry> expiring_soon;   // valid at `until`, expire within 30 days of it,
                                                 // and no later certificate for the same names
  std::vector<CertificateEntry> issued_in_period;
  std::vector<CertificateEntry> revoked_in_period;
  std::vector<FailureEntry> failures;  // in the period (validation, refusals, rate limits)
  size_t validation_failures = 0, rate_limit_refusals = 0, other_refusals = 0;
  std::vector<ChangeEntry> changes;  // in the period
  StagingActivity staging;
};

inline constexpr int64_t kExpiringWithinSeconds = 30 * 86400;

// `history` is the account's ledger history; the summary comes from the policy store.
AccountReport BuildAccountReport(const AccountHistory& history, AccountSummary account,
                                 int64_t since, int64_t until, int64_t generated_at);

// A later certificate of the same account for the same set of names (not revoked) exists.
bool IsRenewed(const CertificateEntry& cert, const AccountHistory& history);

}  // namespace ca::reports
