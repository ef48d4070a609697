#include "profiles/policy/model.h"

#include <algorithm>
#include <charconv>
#include <ctime>

#include "pki/json_fields.h"
#include "pki/revocation_reason.h"
#include "pki/time.h"

namespace ca::profiles::policy {

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
constexpr std::string_view kReportPeriodNames[] = {"weekly", "monthly", "off"};

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

Result<std::vector<ProfileId>> ProfilesFrom(pki::JsonFields& r, std::string_view field) {
  std::vector<ProfileId> out;
  for (const std::string& name : CA_TRY(r.StringList(field))) {
    auto p = ParseProfile(name);
    if (!p) return r.Bad(field, "unknown profile " + name);
    out.push_back(*p);
  }
  return out;
}

// Stored records are read strictly; any defect is kCorrupt naming the record and the field.
template <class T, class Fn>
Result<T> ParseRecord(std::string_view text, std::string_view what, Fn fn) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto r = CA_TRY(pki::JsonFields::Of(j, "stored " + std::string(what) + " record",
                                      ErrorCode::kCorrupt));
  return fn(r);
}

template <class E>
Result<E> StatusFrom(pki::JsonFields& r, std::optional<E> (*parse)(std::string_view)) {
  std::string name = CA_TRY(r.String("status"));
  auto s = parse(name);
  if (!s) return r.Bad("status", "unknown status " + name);
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

std::string_view ReportPeriodName(ReportPeriod p) { return kReportPeriodNames[static_cast<int>(p)]; }

std::optional<ReportPeriod> ParseReportPeriod(std::string_view s) {
  return ParseName<ReportPeriod>(s, kReportPeriodNames);
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
  json j = {{"kid", a.kid},
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
          {"report_period", ReportPeriodName(a.report_period)},
          {"staging", a.staging},
          {"created_at", a.created_at},
          {"updated_at", a.updated_at}};
  if (!a.dashboard_credential_sha256.empty()) {
    j["dashboard_credential_sha256"] = a.dashboard_credential_sha256;
    j["dashboard_credential_issued_at"] = a.dashboard_credential_issued_at;
  }
  const MacRotation& r = a.mac_rotation;
  j["mac_rotation"] = {{"key_issued_at", r.key_issued_at},
                       {"recipient_key_pem", r.recipient_key_pem},
                       {"announced_at", r.announced_at},
                       {"undelivered", r.undelivered}};
  if (r.period_days) j["mac_rotation"]["period_days"] = *r.period_days;  // absent: the default
  return j;
}

json ToPublicJson(const ExternalAccount& a, int64_t now) {
  json j = ToJson(a);
  j.erase("mac_wrapped");
  j.erase("dashboard_credential_sha256");
  // Public keys and a sealed key are no secret, but they are bulky: the audit records say whether.
  auto& r = j["mac_rotation"];
  r["recipient_key"] = !a.mac_rotation.recipient_key_pem.empty();
  r["delivery_pending"] = !a.mac_rotation.undelivered.empty();
  r.erase("recipient_key_pem");
  r.erase("undelivered");
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
  json j = {{"seq", m.seq},
            {"acme_account_id", m.acme_account_id},
            {"external_account_kid", m.external_account_kid},
            {"reason", m.reason},
            {"reason_name", m.reason_name},
            {"recorded_at", m.recorded_at},
            {"policy_version", m.policy_version},
            {"actor", m.actor}};
  if (!m.serial_hex.empty()) j["serial_hex"] = m.serial_hex;
  return j;
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
  return ParseRecord<Organization>(text, "organization", [](pki::JsonFields& f) -> Result<Organization> {
    Organization o;
    o.id = CA_TRY(f.String("id"));
    o.name = CA_TRY(f.String("name"));
    o.country = CA_TRY(f.String("country"));
    o.locality = CA_TRY(f.String("locality"));
    o.registration_id = CA_TRY(f.String("registration_id"));
    o.status = CA_TRY(StatusFrom<OrgStatus>(f, ParseOrgStatus));
    o.created_at = CA_TRY(f.Int("created_at"));
    o.updated_at = CA_TRY(f.Int("updated_at"));
    return o;
  });
}

Result<ExternalAccount> ExternalAccountFromJson(std::string_view text) {
  return ParseRecord<ExternalAccount>(text, "external account", [](pki::JsonFields& f) -> Result<ExternalAccount> {
    ExternalAccount a;
    a.kid = CA_TRY(f.String("kid"));
    a.organization_id = CA_TRY(f.String("organization_id"));
    a.contacts = CA_TRY(f.StringList("contacts"));
    a.not_before = CA_TRY(f.Int("not_before"));
    a.not_after = CA_TRY(f.Int("not_after"));
    a.allowed_profiles = CA_TRY(ProfilesFrom(f, "allowed_profiles"));
    a.allowed_challenges = CA_TRY(f.StringList("allowed_challenges"));
    a.status = CA_TRY(StatusFrom<ExternalAccountStatus>(f, ParseExternalAccountStatus));
    a.mac_regenerations = static_cast<uint32_t>(CA_TRY(f.Uint("mac_regenerations")));
    a.mac_wrapped = CA_TRY(f.String("mac_wrapped"));
    const json* limits_json = CA_TRY(f.Object("limits"));
    auto limits = CA_TRY(pki::JsonFields::Of(*limits_json, "stored external account record.limits",
                                             ErrorCode::kCorrupt));
    a.limits.max_acme_accounts = static_cast<uint32_t>(CA_TRY(limits.Uint("max_acme_accounts")));
    a.limits.orders_per_hour = static_cast<uint32_t>(CA_TRY(limits.Uint("orders_per_hour")));
    a.dashboard_credential_sha256 =
        CA_TRY(f.OptionalString("dashboard_credential_sha256")).value_or("");
    a.dashboard_credential_issued_at =
        CA_TRY(f.OptionalInt("dashboard_credential_issued_at")).value_or(0);
    if (auto period = CA_TRY(f.OptionalString("report_period"))) {  // absent in older records
      auto parsed = ParseReportPeriod(*period);
      if (!parsed) return f.Bad("report_period", "unknown report period " + *period);
      a.report_period = *parsed;
    }
    a.staging = CA_TRY(f.OptionalBool("staging")).value_or(false);  // absent in older records
    if (const json* rot = CA_TRY(f.OptionalObject("mac_rotation"))) {  // absent in older records
      auto r = CA_TRY(pki::JsonFields::Of(*rot, "stored external account record.mac_rotation",
                                          ErrorCode::kCorrupt));
      a.mac_rotation.key_issued_at = CA_TRY(r.Int("key_issued_at"));
      if (auto days = CA_TRY(r.OptionalUint("period_days")))
        a.mac_rotation.period_days = static_cast<uint32_t>(*days);
      a.mac_rotation.recipient_key_pem = CA_TRY(r.String("recipient_key_pem"));
      a.mac_rotation.announced_at = CA_TRY(r.Int("announced_at"));
      a.mac_rotation.undelivered = CA_TRY(r.String("undelivered"));
    }
    a.created_at = CA_TRY(f.Int("created_at"));
    a.updated_at = CA_TRY(f.Int("updated_at"));
    return a;
  });
}

Result<DomainEntry> DomainEntryFromJson(std::string_view text) {
  return ParseRecord<DomainEntry>(text, "domain", [](pki::JsonFields& f) -> Result<DomainEntry> {
    DomainEntry d;
    d.fqdn = CA_TRY(f.String("fqdn"));
    d.external_account_kid = CA_TRY(f.String("external_account_kid"));
    d.organization_id = CA_TRY(f.String("organization_id"));
    d.status = CA_TRY(StatusFrom<DomainStatus>(f, ParseDomainStatus));
    d.include_subdomains = CA_TRY(f.Bool("include_subdomains"));
    d.dcv_methods = CA_TRY(f.StringList("dcv_methods"));
    d.created_at = CA_TRY(f.Int("created_at"));
    d.updated_at = CA_TRY(f.Int("updated_at"));
    return d;
  });
}

Result<AcmeAccountPolicy> AcmeAccountPolicyFromJson(std::string_view text) {
  return ParseRecord<AcmeAccountPolicy>(text, "ACME account policy", [](pki::JsonFields& f) -> Result<AcmeAccountPolicy> {
    AcmeAccountPolicy p;
    p.acme_account_id = CA_TRY(f.String("acme_account_id"));
    p.external_account_kid = CA_TRY(f.String("external_account_kid"));
    p.status = CA_TRY(StatusFrom<AcmeAccountStatus>(f, ParseAcmeAccountStatus));
    const json* profile = CA_TRY(f.Value("profile"));
    if (!profile->is_null()) {
      auto prof = profile->is_string() ? ParseProfile(profile->get<std::string>()) : std::nullopt;
      if (!prof) return f.Bad("profile", "expected null or a profile name");
      p.profile = *prof;
    }
    p.domains = CA_TRY(f.StringList("domains"));
    p.not_after = CA_TRY(f.Int("not_after"));
    p.updated_at = CA_TRY(f.Int("updated_at"));
    return p;
  });
}

Result<MassRevocation> MassRevocationFromJson(std::string_view text) {
  return ParseRecord<MassRevocation>(text, "mass revocation", [](pki::JsonFields& f) -> Result<MassRevocation> {
    MassRevocation m;
    m.seq = CA_TRY(f.Uint("seq"));
    m.serial_hex = CA_TRY(f.OptionalString("serial_hex")).value_or("");
    m.acme_account_id = CA_TRY(f.String("acme_account_id"));
    m.external_account_kid = CA_TRY(f.String("external_account_kid"));
    m.reason = static_cast<int>(CA_TRY(f.Int("reason")));
    m.reason_name = CA_TRY(f.String("reason_name"));
    m.recorded_at = CA_TRY(f.Int("recorded_at"));
    m.policy_version = CA_TRY(f.Uint("policy_version"));
    m.actor = CA_TRY(f.String("actor"));
    return m;
  });
}

Result<AuditRecord> AuditRecordFromJson(std::string_view text) {
  return ParseRecord<AuditRecord>(text, "audit", [](pki::JsonFields& f) -> Result<AuditRecord> {
    AuditRecord r;
    r.seq = CA_TRY(f.Uint("seq"));
    r.time = CA_TRY(f.Int("time"));
    r.actor = CA_TRY(f.String("actor"));
    r.action = CA_TRY(f.String("action"));
    r.object_type = CA_TRY(f.String("object_type"));
    r.object_id = CA_TRY(f.String("object_id"));
    r.account = CA_TRY(f.String("account"));
    r.domain = CA_TRY(f.String("domain"));
    r.before = *CA_TRY(f.Value("before"));
    r.after = *CA_TRY(f.Value("after"));
    r.policy_version = CA_TRY(f.Uint("policy_version"));
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

}  // namespace ca::profiles::policy
