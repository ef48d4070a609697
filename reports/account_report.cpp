#include "reports/account_report.h"

#include <utility>

namespace ca::reports {

namespace {

bool InPeriod(int64_t t, int64_t since, int64_t until) {
  return since <= t && t <= until;
}

}  // namespace

bool IsRenewed(const CertificateEntry& cert, const AccountHistory& history) {
  for (const auto& other : history.certificates) {
    if (other.serial_hex == cert.serial_hex && other.environment == cert.environment) continue;
    if (other.revoked || other.environment != cert.environment) continue;
    if (other.names != cert.names) continue;  // both sorted (ledger.h)
    if (other.issued_at > cert.issued_at ||
        (other.issued_at == cert.issued_at && other.not_after > cert.not_after))
      return true;
  }
  return false;
}

AccountReport BuildAccountReport(const AccountHistory& history, AccountSummary account,
                                 int64_t since, int64_t until, int64_t generated_at) {
  AccountReport r;
  r.account = std::move(account);
  r.since = since;
  r.until = until;
  r.generated_at = generated_at;
  for (const auto& cert : history.certificates) {
    if (cert.environment == kStagingEnvironment) {
      if (InPeriod(cert.issued_at, since, until)) r.staging.issued_in_period.push_back(cert);
      if (cert.revoked && InPeriod(cert.revoked_at, since, until))
        r.staging.revoked_in_period.push_back(cert);
      if (cert.issued_at <= until && cert.ValidAt(until)) ++r.staging.valid_now;
      continue;
    }
    if (InPeriod(cert.issued_at, since, until)) {
      ++r.issued_by_profile[cert.profile];
      r.issued_in_period.push_back(cert);
    }
    if (cert.revoked && InPeriod(cert.revoked_at, since, until)) {
      ++r.revoked_by_reason[cert.reason_name];
      r.revoked_in_period.push_back(cert);
    }
    if (cert.issued_at <= until && cert.ValidAt(until)) {
      ++r.valid_now;
      if (cert.not_after <= until + kExpiringWithinSeconds && !IsRenewed(cert, history))
        r.expiring_soon.push_back(cert);
    }
  }
  r.issued = r.issued_in_period.size();
  r.revoked = r.revoked_in_period.size();
  r.staging.issued = r.staging.issued_in_period.size();
  r.staging.revoked = r.staging.revoked_in_period.size();
  for (const auto& f : history.failures) {
    if (!InPeriod(f.at, since, until)) continue;
    r.failures.push_back(f);
    if (f.environment == kStagingEnvironment) {
      ++r.staging.failures;
      continue;
    }
    switch (f.kind) {
      case FailureKind::kValidation: ++r.validation_failures; break;
      case FailureKind::kRateLimited: ++r.rate_limit_refusals; break;
      case FailureKind::kRefused: ++r.other_refusals; break;
    }
  }
  for (const auto& c : history.changes) {
    if (InPeriod(c.at, since, until)) r.changes.push_back(c);
  }
  return r;
}

}  // namespace ca::reports
