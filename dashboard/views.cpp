#include "dashboard/views.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "profiles/policy/model.h"
#include "reports/ledger_json.h"
#include "reports/render.h"

namespace ca::dashboard {

using nlohmann::json;
using profiles::policy::FormatTime;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string Day(int64_t t) { return FormatTime(t).substr(0, 10); }

json CertificateJson(const reports::CertificateEntry& c, int64_t now) {
  json j = reports::ToJson(c);
  j["status"] = CertificateStatus(c, now);
  return j;
}

}  // namespace

std::string CertificateStatus(const reports::CertificateEntry& c, int64_t now) {
  if (c.revoked) return "revoked";
  if (now > c.not_after) return "expired";
  if (now < c.not_before) return "not yet valid";
  return "valid";
}

bool MatchesQuery(const reports::CertificateEntry& c, std::string_view query) {
  if (query.empty()) return true;
  std::string q = Lower(query);
  auto has = [&](std::string_view field) { return Lower(field).find(q) != std::string::npos; };
  if (has(c.serial_hex) || has(c.profile)) return true;
  return std::any_of(c.names.begin(), c.names.end(), has);
}

std::vector<DayCount> DailyCounts(const reports::AccountHistory& h, int64_t now, int days) {
  std::vector<DayCount> out;
  int64_t today = now - now % 86400;
  int64_t first = today - int64_t{days - 1} * 86400;
  for (int i = 0; i < days; ++i) out.push_back(DayCount{Day(first + int64_t{i} * 86400)});
  auto slot = [&](int64_t t) -> DayCount* {
    if (t < first || t >= today + 86400) return nullptr;
    return &out[static_cast<size_t>((t - first) / 86400)];
  };
  for (const auto& c : h.certificates) {
    if (c.environment == reports::kStagingEnvironment) continue;  // production's chart
    if (DayCount* d = slot(c.issued_at)) ++d->issued;
    if (c.revoked) {
      if (DayCount* d = slot(c.revoked_at)) ++d->revoked;
    }
  }
  return out;
}

json AccountViewJson(const reports::AccountHistory& h, const AccountPolicyView& policy,
                     int64_t now, std::string_view query) {
  size_t issued = 0, revoked = 0, valid = 0, expiring = 0;
  size_t staging_issued = 0, staging_revoked = 0, staging_valid = 0;
  json certs = json::array();
  for (auto it = h.certificates.rbegin(); it != h.certificates.rend(); ++it) {
    if (MatchesQuery(*it, query)) certs.push_back(CertificateJson(*it, now));
    // Staging's test certificates (CA-8) are listed, labelled, and counted apart.
    if (it->environment == reports::kStagingEnvironment) {
      ++staging_issued;
      if (it->revoked) ++staging_revoked;
      if (it->ValidAt(now)) ++staging_valid;
      continue;
    }
    ++issued;
    if (it->revoked) ++revoked;
    if (it->ValidAt(now)) {
      ++valid;
      if (it->not_after - now <= kExpiringWithinSeconds) ++expiring;
    }
  }
  json daily = json::array();
  for (const auto& d : DailyCounts(h, now, kChartDays)) {
    daily.push_back({{"day", d.day}, {"issued", d.issued}, {"revoked", d.revoked}});
  }
  json domains = json::array();
  for (const auto& [fqdn, status] : policy.domains) {
    domains.push_back({{"fqdn", fqdn}, {"status", status}});
  }
  json failures = json::array();
  for (auto it = h.failures.rbegin(); it != h.failures.rend() && failures.size() < kMaxFailuresShown;
       ++it) {
    failures.push_back(reports::ToJson(*it));
  }
  json changes = json::array();
  for (auto it = h.changes.rbegin(); it != h.changes.rend() && changes.size() < kMaxChangesShown;
       ++it) {
    changes.push_back(reports::ToJson(*it));
  }
  return {{"kid", h.kid},
          {"organization", policy.organization},
          {"status", policy.status},
          {"generated_at", FormatTime(now)},
          {"counts",
           {{"issued", issued},
            {"revoked", revoked},
            {"valid", valid},
            {"expiring_30d", expiring}}},
          {"staging_counts",
           {{"issued", staging_issued}, {"revoked", staging_revoked}, {"valid", staging_valid}}},
          {"daily", daily},
          {"certificates", certs},
          {"domains", domains},
          {"failures", failures},
          {"changes", changes}};
}

std::string ChartSvg(const std::vector<DayCount>& days) {
  constexpr int kWidth = 720, kHeight = 220, kLeft = 40, kBottom = 30, kTop = 24;
  size_t peak = 1;
  for (const auto& d : days) peak = std::max({peak, d.issued, d.revoked});
  const double plot_h = kHeight - kBottom - kTop;
  const double slot = days.empty() ? 0 : double(kWidth - kLeft - 10) / double(days.size());
  const double bar = std::max(1.0, slot / 2 - 1);
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(kWidth) +
                    "\" height=\"" + std::to_string(kHeight) + "\" viewBox=\"0 0 " +
                    std::to_string(kWidth) + " " + std::to_string(kHeight) +
                    "\" font-family=\"sans-serif\" font-size=\"11\">"
                    "<title>Issued and revoked per day</title>"
                    "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#fff\"/>";
  char buf[256];
  auto line = [&](double y) {
    std::snprintf(buf, sizeof(buf),
                  "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>", kLeft, y,
                  kWidth - 10, y);
    svg += buf;
  };
  line(kTop);
  line(kTop + plot_h);
  std::snprintf(buf, sizeof(buf), "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%zu</text>",
                kLeft - 4, kTop + 4, peak);
  svg += buf;
  std::snprintf(buf, sizeof(buf), "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">0</text>",
                kLeft - 4, kTop + plot_h + 4);
  svg += buf;
  for (size_t i = 0; i < days.size(); ++i) {
    const DayCount& d = days[i];
    double x = kLeft + double(i) * slot;
    for (int series = 0; series < 2; ++series) {
      size_t n = series == 0 ? d.issued : d.revoked;
      if (n == 0) continue;
      double h = plot_h * double(n) / double(peak);
      std::snprintf(buf, sizeof(buf),
                    "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"%s\"><title>%s %s: %zu</title></rect>",
                    series == 0 ? "issued" : "revoked", x + series * (bar + 1), kTop + plot_h - h,
                    bar, h, series == 0 ? "#2b6cb0" : "#c53030", reports::HtmlEscape(d.day).c_str(),
                    series == 0 ? "issued" : "revoked", n);
      svg += buf;
    }
    bool near_end = i + 4 >= days.size();  // leaves room for the last day's label
    if ((i % 7 == 0 && !near_end) || i + 1 == days.size()) {
      std::snprintf(buf, sizeof(buf), "<text x=\"%.1f\" y=\"%d\">%s</text>", x,
                    kHeight - kBottom + 16, reports::HtmlEscape(d.day.substr(5)).c_str());
      svg += buf;
    }
  }
  svg += "<rect x=\"" + std::to_string(kLeft) + "\" y=\"6\" width=\"10\" height=\"10\" "
         "fill=\"#2b6cb0\"/><text x=\"" + std::to_string(kLeft + 14) + "\" y=\"15\">issued</text>"
         "<rect x=\"" + std::to_string(kLeft + 70) + "\" y=\"6\" width=\"10\" height=\"10\" "
         "fill=\"#c53030\"/><text x=\"" + std::to_string(kLeft + 84) + "\" y=\"15\">revoked</text>";
  svg += "</svg>\n";
  return svg;
}

}  // namespace ca::dashboard
