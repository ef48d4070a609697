#include "reports/report_source.h"

#include <string>

namespace ca::reports {

Result<AccountSummary> LoadAccountSummary(const profiles::policy::PolicyReader& policy,
                                          std::string_view kid, int64_t now) {
  auto account = policy.FindExternalAccount(kid);
  if (!account) return Fail(ErrorCode::kNotFound, "unknown external account " + std::string(kid));
  AccountSummary s;
  s.kid = account->kid;
  auto org = policy.FindOrganization(account->organization_id);
  s.organization = org ? org->name : account->organization_id;
  s.status = account->DisplayStatus(now);
  s.contacts = account->contacts;
  for (const auto& d : policy.DomainsOf(kid))
    s.domains.push_back(d.fqdn + " (" + std::string(profiles::policy::DomainStatusName(d.status)) + ")");
  return s;
}

Result<AccountReport> BuildReportFromStores(const profiles::policy::PolicyStore& policy,
                                            const AuditSources& sources, std::string_view kid,
                                            int64_t since, int64_t until, int64_t now) {
  if (since > until)
    return Fail(ErrorCode::kInvalidArgument, "the period ends before it starts (since > until)");
  AccountSummary summary;
  {
    auto snapshot = CA_TRY(policy.Snapshot());
    summary = CA_TRY(LoadAccountSummary(snapshot, kid, now));
  }
  auto ledger = CA_TRY(Ledger::Open(sources));
  CA_TRY(ledger.Refresh());
  return BuildAccountReport(ledger.History(kid), std::move(summary), since, until, now);
}

}  // namespace ca::reports
