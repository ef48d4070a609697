// What the dashboard shows for one external account, as JSON for the page (built from the
// ledger's history and the policy store's record), and the issuance/revocation chart as SVG drawn
// here (no charting library, nothing fetched from elsewhere).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/ledger.h"

namespace ca::dashboard {

inline constexpr int64_t kExpiringWithinSeconds = 30 * 86400;
inline constexpr int kChartDays = 30;
inline constexpr size_t kMaxFailuresShown = 100;
inline constexpr size_t kMaxChangesShown = 200;

struct AccountPolicyView {  // from the policy store
  std::string organization;
  std::string status;  // ExternalAccount::DisplayStatus, "unknown" when the store has no record
  std::vector<std::pair<std::string, std::string>> domains;  // fqdn, status
};

struct DayCount {
  std::string day;  // YYYY-MM-DD (UTC)
  size_t issued = 0, revoked = 0;
};

// "valid", "revoked", "expired" or "not yet valid" at `now`.
std::string CertificateStatus(const reports::CertificateEntry& c, int64_t now);
// Does the certificate match a search (case-insensitive substring of a name, the serial or the
// profile)? An empty query matches everything.
bool MatchesQuery(const reports::CertificateEntry& c, std::string_view query);
// Issued and revoked per UTC day over the `days` days ending with today.
std::vector<DayCount> DailyCounts(const reports::AccountHistory& h, int64_t now, int days);

// {"kid", "organization", "status", "counts": {issued, revoked, valid, expiring_30d},
//  "daily": [...], "certificates": [...] (newest first, filtered by `query`), "domains": [...],
//  "failures": [...] (newest first), "changes": [...] (newest first)}
nlohmann::json AccountViewJson(const reports::AccountHistory& h, const AccountPolicyView& policy,
                               int64_t now, std::string_view query);

// The chart of DailyCounts as a standalone SVG document.
std::string ChartSvg(const std::vector<DayCount>& days);

}  // namespace ca::dashboard
