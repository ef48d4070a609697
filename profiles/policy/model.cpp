#include "profiles/policy/model.h"

#include <algorithm>
#include <charconv>
#include <ctime>

#include "pki/revocation_reason.h"
#include "pki/time.h"

namespace ca::policy {

using nlohmann::json;

namespace {

template <class E, size_t N>
std::optional<E> ParseName(std::string_view s, const std::string_view (&names)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i);
  }
  return std::nullopt;
}

constexpr std::string_view kOrgStatusNames[] = {"pending", "valid", "invalid"};
constexpr std::string_view kExtStatusNames[] = {"pending", "active", "suspended", "deactivated",
                                                "revoked"};
constexpr std::string_view kAcmeStatusNames[] = {"active", "suspended", "deactivated", "revoked"};
constexpr std::string_view kDomainStatusNames[] = {"pending", "valid", "invalid"};

// Mass revocations revoke subscriber certificates: the CA-level reasons (cACompromise,
// aACompromise) do not describe an account and are refused here.
bool AllowedForMassRevocation(pki::RevocationReason reason) {
  return reason != pki::RevocationReason::kCaCompromise &&
         reason != pki::RevocationReason::kAaCompromise;
}

json ProfilesJson(const std::vector<ProfileId>& ps) {
  json a = json::array();
  for (ProfileId p : ps) a.push_back(ProfileName(p));
  return a;
}

std::vector<ProfileId> ProfilesFrom(const json& a) {
  std::vector<ProfileId> out;
  for (const auto& v : a) {
    auto p = ParseProfile(v.get<std::string>());
    if (!p) throw std::runtime_error("unknown profile " + v.get<std::string>());
    out.push_back(*p);
  }
  return out;
}

template <class T, class Fn>
Result<T> ParseRecord(std::string_view text, std::string_view what, Fn fn) {
  try {
    json j = json::parse(text);
    return fn(j);
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kCorrupt,
                "stored " + std::string(what) + " record is malformed: " + e.what());
  }
}

template <class E>
E StatusFrom(const json& j, std::optional<E> (*parse)(std::string_view)) {
  auto s = parse(j.get<std::string>());
  if (!s) throw std::runtime_error("unknown status " + j.get<std::string>());
  return *s;
}

}  // namespace

std::string_view OrgStatusName(OrgStatus s) {
  return kOrgStatusNames[static_cast<int>(s)];
}
std::string_view ExternalAccountStatusName(ExternalAccountStatus s) {
  return kExtStatusNames[static_cast<int>(s)];
}
std::string_view AcmeAccountStatusName(AcmeAccountStatus s) {
  return kAcmeStatusNames[static_cast<int>(s)];
}
std::string_view DomainStatusName(DomainStatus s) {
  return kDomainStatusNames[static_cast<int>(s)];
}
std::optional<OrgStatus> ParseOrgStatus(std::string_view s) {
  return ParseName<OrgStatus>(s, kOrgStatusNames);
}
std::optional<ExternalAccountStatus> ParseExternalAccountStatus(std::string_view s) {
  return ParseName<ExternalAccountStatus>(s, kExtStatusNames);
}
std::optional<AcmeAccountStatus> ParseAcmeAccountStatus(std::string_view s) {
  return ParseName<AcmeAccountStatus>(s, kAcmeStatusNames);
}
std::optional<DomainStatus> ParseDomainStatus(std::string_view s) {
  return ParseName<DomainStatus>(s, kDomainStatusNames);
}

bool IsChallengeType(std::string_view s) {
  return std::ranges::find(kChallengeTypes, s) != std::end(kChallengeTypes);
}

bool ExternalAccount::AllowsProfile(ProfileId p) const {
  return std::ranges::find(allowed_profiles, p) != allowed_profiles.end();
}

bool ExternalAccount::AllowsChallenge(std::string_view type) const {
  return std::ranges::find(allowed_challenges, type) != allowed_challenges.end();
}

std::string ExternalAccount::DisplayStatus(int64_t now) const {
  if (status == ExternalAccountStatus::kActive && Expired(now)) return "expired";
  return std::string(ExternalAccountStatusName(status));
}

std::optional<int> ParseRevocationReason(std::string_view name) {
  auto reason = pki::ParseReason(name);
  if (!reason || !AllowedForMassRevocation(*reason)) return std::nullopt;
  return pki::ReasonCode(*reason);
}

std::string_view RevocationReasonName(int code) {
  auto reason = pki::ReasonFromCode(code);
  return reason ? pki::ReasonName(*reason) : "unspecified";
}

json ToJson(const Organization& o) {
  return {{"id", o.id},
          {"name", o.name},
          {"country", o.country},
          {"locality", o.locality},
          {"registration_id", o.registration_id},
          {"status", OrgStatusName(o.status)},
          {"created_at", o.created_at},
          {"updated_at", o.updated_at}};
}

json ToJson(const ExternalAccount& a) {
  return {{"kid", a.kid},
          {"organization_id", a.organization_id},
          {"contacts", a.contacts},
          {"not_before", a.not_before},
          {"not_after", a.not_after},
          {"allowed_profiles", ProfilesJson(a.allowed_profiles)},
          {"allowed_challenges", a.allowed_challenges},
          {"status", ExternalAccountStatusName(a.status)},
          {"mac_regenerations", a.mac_regenerations},
          {"mac_wrapped", a.mac_wrapped},
          {"limits",
           {{"max_acme_accounts", a.limits.max_acme_accounts},
            {"orders_per_hour", a.limits.orders_per_hour}}},
          {"created_at", a.created_at},
          {"updated_at", a.updated_at}};
}

json ToPublicJson(const ExternalAccount& a, int64_t now) {
  json j = ToJson(a);
  j.erase("mac_wrapped");
  j["display_status"] = a.DisplayStatus(now);
  j["not_before_text"] = FormatTime(a.not_before);
  j["not_after_text"] = FormatTime(a.not_after);
  return j;
}

json ToJson(const DomainEntry& d) {
  return {{"fqdn", d.fqdn},
          {"external_account_kid", d.external_account_kid},
          {"organization_id", d.organization_id},
          {"status", DomainStatusName(d.status)},
          {"include_subdomains", d.include_subdomains},
          {"dcv_methods", d.dcv_methods},
          {"created_at", d.created_at},
          {"updated_at", d.updated_at}};
}

json ToJson(const AcmeAccountPolicy& p) {
  return {{"acme_account_id", p.acme_account_id},
          {"external_account_kid", p.external_account_kid},
          {"status", AcmeAccountStatusName(p.status)},
          {"profile", p.profile ? json(ProfileName(*p.profile)) : json(nullptr)},
          {"domains", p.domains},
          {"not_after", p.not_after},
          {"updated_at", p.updated_at}};
}

json ToJson(const MassRevocation& m) {
  return {{"seq", m.seq},
          {"acme_account_id", m.acme_account_id},
          {"external_account_kid", m.external_account_kid},
          {"reason", m.reason},
          {"reason_name", m.reason_name},
          {"recorded_at", m.recorded_at},
          {"policy_version", m.policy_version},
          {"actor", m.actor}};
}

json ToJson(const AuditRecord& r) {
  return {{"seq", r.seq},
          {"time", r.time},
          {"time_text", FormatTime(r.time)},
          {"actor", r.actor},
          {"action", r.action},
          {"object_type", r.object_type},
          {"object_id", r.object_id},
          {"account", r.account},
          {"domain", r.domain},
          {"before", r.before},
          {"after", r.after},
          {"policy_version", r.policy_version}};
}

Result<Organization> OrganizationFromJson(std::string_view text) {
  return ParseRecord<Organization>(text, "organization", [](const json& j) {
    Organization o;
    o.id = j.at("id").get<std::string>();
    o.name = j.at("name").get<std::string>();
    o.country = j.at("country").get<std::string>();
    o.locality = j.at("locality").get<std::string>();
    o.registration_id = j.at("registration_id").get<std::string>();
    o.status = StatusFrom<OrgStatus>(j.at("status"), ParseOrgStatus);
    o.created_at = j.at("created_at").get<int64_t>();
    o.updated_at = j.at("updated_at").get<int64_t>();
    return o;
  });
}

Result<ExternalAccount> ExternalAccountFromJson(std::string_view text) {
  return ParseRecord<ExternalAccount>(text, "external account", [](const json& j) {
    ExternalAccount a;
    a.kid = j.at("kid").get<std::string>();
    a.organization_id = j.at("organization_id").get<std::string>();
    a.contacts = j.at("contacts").get<std::vector<std::string>>();
    a.not_before = j.at("not_before").get<int64_t>();
    a.not_after = j.at("not_after").get<int64_t>();
    a.allowed_profiles = ProfilesFrom(j.at("allowed_profiles"));
    a.allowed_challenges = j.at("allowed_challenges").get<std::vector<std::string>>();
    a.status = StatusFrom<ExternalAccountStatus>(j.at("status"), ParseExternalAccountStatus);
    a.mac_regenerations = j.at("mac_regenerations").get<uint32_t>();
    a.mac_wrapped = j.at("mac_wrapped").get<std::string>();
    a.limits.max_acme_accounts = j.at("limits").at("max_acme_accounts").get<uint32_t>();
    a.limits.orders_per_hour = j.at("limits").at("orders_per_hour").get<uint32_t>();
    a.created_at = j.at("created_at").get<int64_t>();
    a.updated_at = j.at("updated_at").get<int64_t>();
    return a;
  });
}

Result<DomainEntry> DomainEntryFromJson(std::string_view text) {
  return ParseRecord<DomainEntry>(text, "domain", [](const json& j) {
    DomainEntry d;
    d.fqdn = j.at("fqdn").get<std::string>();
    d.external_account_kid = j.at("external_account_kid").get<std::string>();
    d.organization_id = j.at("organization_id").get<std::string>();
    d.status = StatusFrom<DomainStatus>(j.at("status"), ParseDomainStatus);
    d.include_subdomains = j.at("include_subdomains").get<bool>();
    d.dcv_methods = j.at("dcv_methods").get<std::vector<std::string>>();
    d.created_at = j.at("created_at").get<int64_t>();
    d.updated_at = j.at("updated_at").get<int64_t>();
    return d;
  });
}

Result<AcmeAccountPolicy> AcmeAccountPolicyFromJson(std::string_view text) {
  return ParseRecord<AcmeAccountPolicy>(text, "ACME account policy", [](const json& j) {
    AcmeAccountPolicy p;
    p.acme_account_id = j.at("acme_account_id").get<std::string>();
    p.external_account_kid = j.at("external_account_kid").get<std::string>();
    p.status = StatusFrom<AcmeAccountStatus>(j.at("status"), ParseAcmeAccountStatus);
    if (!j.at("profile").is_null()) {
      auto prof = ParseProfile(j.at("profile").get<std::string>());
      if (!prof) throw std::runtime_error("unknown profile");
      p.profile = *prof;
    }
    p.domains = j.at("domains").get<std::vector<std::string>>();
    p.not_after = j.at("not_after").get<int64_t>();
    p.updated_at = j.at("updated_at").get<int64_t>();
    return p;
  });
}

Result<MassRevocation> MassRevocationFromJson(std::string_view text) {
  return ParseRecord<MassRevocation>(text, "mass revocation", [](const json& j) {
    MassRevocation m;
    m.seq = j.at("seq").get<uint64_t>();
    m.acme_account_id = j.at("acme_account_id").get<std::string>();
    m.external_account_kid = j.at("external_account_kid").get<std::string>();
    m.reason = j.at("reason").get<int>();
    m.reason_name = j.at("reason_name").get<std::string>();
    m.recorded_at = j.at("recorded_at").get<int64_t>();
    m.policy_version = j.at("policy_version").get<uint64_t>();
    m.actor = j.at("actor").get<std::string>();
    return m;
  });
}

Result<AuditRecord> AuditRecordFromJson(std::string_view text) {
  return ParseRecord<AuditRecord>(text, "audit", [](const json& j) {
    AuditRecord r;
    r.seq = j.at("seq").get<uint64_t>();
    r.time = j.at("time").get<int64_t>();
    r.actor = j.at("actor").get<std::string>();
    r.action = j.at("action").get<std::string>();
    r.object_type = j.at("object_type").get<std::string>();
    r.object_id = j.at("object_id").get<std::string>();
    r.account = j.at("account").get<std::string>();
    r.domain = j.at("domain").get<std::string>();
    r.before = j.at("before");
    r.after = j.at("after");
    r.policy_version = j.at("policy_version").get<uint64_t>();
    return r;
  });
}

std::string FormatTime(int64_t unix_seconds) {
  return pki::FormatRfc3339(unix_seconds);
}

Result<int64_t> ParseTime(std::string_view text) {
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid time '" + std::string(text) +
                    "' (expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @unix-seconds)");
  };
  if (text.starts_with("@")) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data() + 1, text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || text.size() == 1) return bad();
    return v;
  }
  // A bare date is midnight UTC of that day.
  std::string full = text.size() == 10 ? std::string(text) + "T00:00:00Z" : std::string(text);
  auto t = pki::ParseRfc3339(full);
  if (!t) return bad();
  return pki::ToUnix(*t);
}

int64_t AddYears(int64_t unix_seconds, int years) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  tm.tm_year += years;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace ca::policy
