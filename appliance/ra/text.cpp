#include "appliance/ra/text.h"

namespace ca::appliance::ra {

using namespace ca::profiles::policy;
using nlohmann::json;

std::string OrgLine(const Organization& o) {
  return o.id + "  " + std::string(OrgStatusName(o.status)) + "  " + o.name + " (" + o.country +
         ", " + o.locality + ", " + o.registration_id + ")\n";
}
std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}
std::string Profiles(const std::vector<ProfileId>& ps) {
  std::vector<std::string> names;
  for (auto p : ps) names.emplace_back(ProfileName(p));
  return Join(names);
}
std::string ExtText(const ExternalAccount& a, int64_t now) {
  return "kid: " + a.kid + "\norganization: " + a.organization_id +
         "\nstatus: " + a.DisplayStatus(now) + "\ncontacts: " + Join(a.contacts, "; ") +
         "\nvalidity: " + FormatTime(a.not_before) + " .. " + FormatTime(a.not_after) +
         "\nprofiles: " + Profiles(a.allowed_profiles) +
         "\nchallenges: " + Join(a.allowed_challenges) +
         "\nmac regenerations: " + std::to_string(a.mac_regenerations) +
         "\nlimits: max ACME accounts " + std::to_string(a.limits.max_acme_accounts) +
         ", orders per hour " + std::to_string(a.limits.orders_per_hour) +
         "\nreport period: " + std::string(ReportPeriodName(a.report_period)) +
         "\nstaging: " + (a.staging ? "yes" : "no") + "\n";
}
std::string DomainLine(const DomainEntry& d) {
  return d.fqdn + "  " + std::string(DomainStatusName(d.status)) + "  kid " +
         d.external_account_kid + "  org " + d.organization_id + "  dcv " + Join(d.dcv_methods) +
         (d.include_subdomains ? "  +subdomains" : "") + "\n";
}
std::string OrgName(const PolicyReader& r, const std::string& org_id) {
  auto o = r.FindOrganization(org_id);
  return o ? o->name : "(unknown organization)";
}
std::string AcmeLine(const json& j) {
  return j["id"].get<std::string>() + "  " + j["status"].get<std::string>() + "  " +
         j["profile"].get<std::string>() + "  kid " + j["external_account_kid"].get<std::string>() +
         "  gateway " + j["gateway_status"].get<std::string>() +
         (j["domains"].empty() ? "" : "  domains " + j["domains"].dump()) + "\n";
}

std::string RevokedCountLine(size_t certificates) {
  return "revoked: " + std::to_string(certificates) +
         " unexpired certificate(s); the engine applies the revocation within seconds, then OCSP "
         "answers revoked and the next CRL lists them\n";
}

}  // namespace ca::appliance::ra
