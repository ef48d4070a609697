// Where a report's inputs come from: the account's summary from the policy store, its history from
// the ledger. One function builds the report of one account and period for every caller (ca-ra
// report, the ca-report timer, the mail sender).
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "profiles/policy/store.h"
#include "reports/account_report.h"
#include "reports/ledger.h"

namespace ca::reports {

// The summary of `kid` as the policy store holds it at `now`: organization name, displayed status,
// contacts, "fqdn (status)" per domain. kNotFound for a kid the store does not know.
Result<AccountSummary> LoadAccountSummary(const profiles::policy::PolicyReader& policy,
                                          std::string_view kid, int64_t now);

// The report of `kid` for [since, until]: the summary from `policy`, the history from the audit
// files (read and verified once). kNotFound for an unknown kid, kInvalidArgument for since >
// until, kCorrupt when an audit chain breaks (a report is never built on a trail that does not
// verify).
Result<AccountReport> BuildReportFromStores(const profiles::policy::PolicyStore& policy,
                                            const AuditSources& sources, std::string_view kid,
                                            int64_t since, int64_t until, int64_t now);

}  // namespace ca::reports
