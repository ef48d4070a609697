#include "profiles/policy/admin/admin.h"

#include <algorithm>

#include "common/encoding.h"
#include "pki/serial.h"
#include "profiles/policy/admin/mac_rotation.h"
#include "profiles/policy/fqdn.h"
#include "profiles/policy/mac_key.h"

namespace ca::profiles::policy::admin {

using nlohmann::json;

namespace {

std::unexpected<Error> Invalid(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, std::move(message));
}

// Printable text for a certificate subject field: non-empty, bounded, no control characters.
Status CheckText(std::string_view field, std::string_view value, size_t max) {
  if (value.empty()) return Invalid(std::string(field) + " must not be empty");
  if (value.size() > max) {
    return Invalid(std::string(field) + " is longer than " + std::to_string(max) + " characters");
  }
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Invalid(std::string(field) + " contains a control character");
    }
  }
  return Ok();
}

Status CheckOrganization(Organization& o) {
  CA_TRY_STATUS(CheckText("name", o.name, 64));  // X.520 ub-organization-name
  CA_TRY_STATUS(CheckText("locality", o.locality, 128));
  CA_TRY_STATUS(CheckText("registration id", o.registration_id, 64));
  std::string c = o.country;
  for (char& ch : c) {
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  }
  if (c.size() != 2 || !std::ranges::all_of(c, [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
    return Invalid("country must be two letters (ISO 3166 alpha-2), got '" + o.country + "'");
  }
  o.country = c;
  return Ok();
}

Status CheckExternalAccount(const PolicyReader& r, const ExternalAccount& a) {
  if (!r.FindOrganization(a.organization_id)) {
    return Fail(ErrorCode::kNotFound, "unknown organization " + a.organization_id);
  }
  if (a.contacts.empty()) return Invalid("an external account needs at least one named contact");
  for (const auto& c : a.contacts) CA_TRY_STATUS(CheckText("contact", c, 256));
  if (a.not_after <= a.not_before) return Invalid("not_after must be after not_before");
  if (a.not_after > AddYears(a.not_before, kMaxExternalAccountYears)) {
    return Invalid("validity " + FormatTime(a.not_before) + " .. " + FormatTime(a.not_after) +
                   " is longer than " + std::to_string(kMaxExternalAccountYears) + " years");
  }
  if (a.allowed_profiles.empty()) return Invalid("at least one profile must be allowed");
  if (a.allowed_challenges.empty()) return Invalid("at least one challenge type must be allowed");
  for (const auto& t : a.allowed_challenges) {
    if (!IsChallengeType(t)) {
      return Invalid("unknown challenge type '" + t + "' (http-01, dns-01, tls-alpn-01)");
    }
  }
  if (a.limits.max_acme_accounts == 0 || a.limits.orders_per_hour == 0) {
    return Invalid("limits must be positive");
  }
  return CheckMacRotation(a);
}

template <class T>
void Dedupe(std::vector<T>& v) {
  std::vector<T> out;
  for (auto& x : v) {
    if (std::ranges::find(out, x) == out.end()) out.push_back(x);
  }
  v = std::move(out);
}

void Apply(ExternalAccount& a, const ExternalAccountFields& f) {
  if (f.contacts) a.contacts = *f.contacts;
  if (f.not_before) a.not_before = *f.not_before;
  if (f.not_after) a.not_after = *f.not_after;
  if (f.allowed_profiles) a.allowed_profiles = *f.allowed_profiles;
  if (f.allowed_challenges) a.allowed_challenges = *f.allowed_challenges;
  if (f.max_acme_accounts) a.limits.max_acme_accounts = *f.max_acme_accounts;
  if (f.orders_per_hour) a.limits.orders_per_hour = *f.orders_per_hour;
  if (f.report_period) a.report_period = *f.report_period;
  if (f.staging) a.staging = *f.staging;
  if (f.mac_rotation_days) a.mac_rotation.period_days = *f.mac_rotation_days;
  if (f.mac_recipient_key_pem) a.mac_rotation.recipient_key_pem = *f.mac_recipient_key_pem;
  Dedupe(a.allowed_profiles);
  Dedupe(a.allowed_challenges);
}

Result<ExternalAccount> LoadExternalAccount(const PolicyReader& r, const std::string& kid) {
  auto a = r.FindExternalAccount(kid);
  if (!a) return Fail(ErrorCode::kNotFound, "unknown external account " + kid);
  return *a;
}

Status RefuseFinal(const ExternalAccount& a) {
  if (a.status == ExternalAccountStatus::kRevoked ||
      a.status == ExternalAccountStatus::kDeactivated) {
    return Fail(ErrorCode::kFailedPrecondition,
                "external account " + a.kid + " is " +
                    std::string(ExternalAccountStatusName(a.status)) + " (final)");
  }
  return Ok();
}

Result<DomainEntry> LoadDomain(const PolicyReader& r, const std::string& kid,
                               const std::string& fqdn, std::string* normalised) {
  *normalised = CA_TRY(NormalizeFqdn(fqdn, /*allow_wildcard=*/true));
  CA_TRY(LoadExternalAccount(r, kid));
  auto d = r.FindDomain(kid, *normalised);
  if (!d) {
    return Fail(ErrorCode::kNotFound,
                "domain " + *normalised + " is not listed for external account " + kid);
  }
  return *d;
}

json Public(const ExternalAccount& a, int64_t now) {
  return ToPublicJson(a, now);
}

}  // namespace

AcmeAccountPolicy AcmeAccountPolicyOrDefault(const PolicyReader& reader,
                                             const AcmeAccountRef& ref) {
  if (auto p = reader.FindAcmeAccountPolicy(ref.id)) return *p;
  AcmeAccountPolicy p;
  p.acme_account_id = ref.id;
  p.external_account_kid = ref.external_account_kid;
  return p;
}

namespace {

// One organization per registration id (and country): creating it twice is the usual mistake of a
// repeated command, and two records for one company split its accounts.
Status RefuseDuplicateRegistration(const PolicyReader& r, const Organization& o) {
  for (const Organization& other : r.Organizations()) {
    if (other.id != o.id && other.country == o.country &&
        AsciiLower(other.registration_id) == AsciiLower(o.registration_id)) {
      return Fail(ErrorCode::kAlreadyExists, "organization " + other.id + " (" + other.name +
                                                 ") already has registration id " +
                                                 other.registration_id + " in " + other.country +
                                                 "; see 'org show " + other.id + "'");
    }
  }
  return Ok();
}

}  // namespace

Result<Organization> CreateOrganization(const AdminContext& ctx, const OrganizationFields& f) {
  Organization o;
  o.id = RandomUuidV4();
  o.name = f.name.value_or("");
  o.country = f.country.value_or("");
  o.locality = f.locality.value_or("");
  o.registration_id = f.registration_id.value_or("");
  CA_TRY_STATUS(CheckOrganization(o));
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  CA_TRY_STATUS(RefuseDuplicateRegistration(w, o));
  o.created_at = o.updated_at = ctx.now;
  CA_TRY_STATUS(w.PutOrganization(o));
  CA_TRY_STATUS(w.Audit("org.create", "organization", o.id, "", "", nullptr, ToJson(o)));
  CA_TRY_STATUS(w.Commit());
  return o;
}

Result<Organization> UpdateOrganization(const AdminContext& ctx, const std::string& id,
                                        const OrganizationFields& f) {
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  auto before = w.FindOrganization(id);
  if (!before) return Fail(ErrorCode::kNotFound, "unknown organization " + id);
  Organization o = *before;
  if (f.name) o.name = *f.name;
  if (f.country) o.country = *f.country;
  if (f.locality) o.locality = *f.locality;
  if (f.registration_id) o.registration_id = *f.registration_id;
  CA_TRY_STATUS(CheckOrganization(o));
  CA_TRY_STATUS(RefuseDuplicateRegistration(w, o));
  o.updated_at = ctx.now;
  CA_TRY_STATUS(w.PutOrganization(o));
  CA_TRY_STATUS(w.Audit("org.update", "organization", id, "", "", ToJson(*before), ToJson(o)));
  CA_TRY_STATUS(w.Commit());
  return o;
}

Result<Organization> SetOrganizationStatus(const AdminContext& ctx, const std::string& id,
                                           OrgStatus to) {
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  auto before = w.FindOrganization(id);
  if (!before) return Fail(ErrorCode::kNotFound, "unknown organization " + id);
  if (before->status == to) return *before;  // a repeated command is a no-op
  auto next = NextOrgStatus(before->status, to);
  if (!next) return Fail(next.error().code, "organization " + id + ": " + next.error().message);
  Organization o = *before;
  o.status = *next;
  o.updated_at = ctx.now;
  CA_TRY_STATUS(w.PutOrganization(o));
  std::string action = to == OrgStatus::kValid ? "org.validate" : "org.invalidate";
  CA_TRY_STATUS(w.Audit(action, "organization", id, "", "", ToJson(*before), ToJson(o)));
  CA_TRY_STATUS(w.Commit());
  return o;
}

Result<IssuedCredentials> CreateExternalAccount(const AdminContext& ctx,
                                                const ExternalAccountFields& f, bool activate,
                                                const EVP_PKEY* hsm_wrap_public) {
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  ExternalAccount a;
  a.kid = RandomUuidV4();
  a.organization_id = f.organization_id.value_or("");
  a.not_before = ctx.now;
  a.not_after = AddYears(ctx.now, 1);
  a.allowed_profiles = {ProfileId::kSsl};
  a.allowed_challenges = {"http-01", "dns-01"};
  Apply(a, f);
  if (f.not_before && !f.not_after) a.not_after = AddYears(a.not_before, 1);
  CA_TRY_STATUS(CheckExternalAccount(w, a));
  a.status = activate ? ExternalAccountStatus::kActive : ExternalAccountStatus::kPending;
  Secret mac = GenerateMacKey();
  a.mac_wrapped = CA_TRY(WrapMacKeyForHsm(a.kid, mac, hsm_wrap_public));
  a.created_at = a.updated_at = a.mac_rotation.key_issued_at = ctx.now;
  CA_TRY_STATUS(w.PutExternalAccount(a));
  CA_TRY_STATUS(w.Audit("ext-account.create", "external_account", a.kid, a.kid, "", nullptr,
                        Public(a, ctx.now)));
  CA_TRY_STATUS(w.Commit());
  return IssuedCredentials{std::move(a), std::move(mac)};
}

Result<ExternalAccount> UpdateExternalAccount(const AdminContext& ctx, const std::string& kid,
                                              const ExternalAccountFields& f) {
  if (f.organization_id) {
    return Invalid("the organization of an external account cannot change; create a new account");
  }
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  ExternalAccount before = CA_TRY(LoadExternalAccount(w, kid));
  CA_TRY_STATUS(RefuseFinal(before));
  ExternalAccount a = before;
  Apply(a, f);
  CA_TRY_STATUS(CheckExternalAccount(w, a));
  a.updated_at = ctx.now;
  CA_TRY_STATUS(w.PutExternalAccount(a));
  CA_TRY_STATUS(w.Audit("ext-account.update", "external_account", kid, kid, "",
                        Public(before, ctx.now), Public(a, ctx.now)));
  CA_TRY_STATUS(w.Commit());
  return a;
}

Result<ExternalAccount> ExternalAccountLifecycle(const AdminContext& ctx, const std::string& kid,
                                                 AccountAction action, int reason) {
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  ExternalAccount before = CA_TRY(LoadExternalAccount(w, kid));
  if (AlreadyDone(before.status, action)) return before;  // nothing written, nothing audited
  auto next = NextExternalAccountStatus(before.status, action);
  if (!next)
    return Fail(next.error().code, "external account " + kid + ": " + next.error().message);
  ExternalAccount a = before;
  a.status = *next;
  a.updated_at = ctx.now;
  CA_TRY_STATUS(w.PutExternalAccount(a));
  json after = Public(a, ctx.now);
  if (action == AccountAction::kRevoke) {
    MassRevocation m;
    m.external_account_kid = kid;
    m.reason = reason;
    auto recorded = CA_TRY(w.RecordMassRevocation(m));
    after["mass_revocation"] = ToJson(recorded);
  }
  CA_TRY_STATUS(w.Audit("ext-account." + std::string(AccountActionName(action)), "external_account",
                        kid, kid, "", Public(before, ctx.now), after));
  CA_TRY_STATUS(w.Commit());
  return a;
}

Result<IssuedCredentials> RegenerateMacKey(const AdminContext& ctx, const std::string& kid,
                                           const EVP_PKEY* hsm_wrap_public,
                                           const std::string& recipient_key_pem) {
  return ReplaceMacKey(ctx, kid, hsm_wrap_public, "ext-account.regenerate-mac",
                       [&](const ExternalAccount&, ExternalAccount& a, const Secret&) -> Status {
                         if (!recipient_key_pem.empty())
                           a.mac_rotation.recipient_key_pem = recipient_key_pem;
                         return Ok();
                       });
}

Result<IssuedCredentials> ReplaceMacKey(const AdminContext& ctx, const std::string& kid,
                                        const EVP_PKEY* hsm_wrap_public, std::string_view action,
                                        const MacKeyAmend& amend) {
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  ExternalAccount before = CA_TRY(LoadExternalAccount(w, kid));
  CA_TRY_STATUS(RefuseFinal(before));
  ExternalAccount a = before;
  Secret mac = GenerateMacKey();
  a.mac_wrapped = CA_TRY(WrapMacKeyForHsm(kid, mac, hsm_wrap_public));
  a.mac_regenerations += 1;
  a.updated_at = ctx.now;
  // A new key restarts the rotation schedule: its notice is for the next one.
  a.mac_rotation.key_issued_at = ctx.now;
  a.mac_rotation.announced_at = 0;
  a.mac_rotation.undelivered.clear();
  if (amend) CA_TRY_STATUS(amend(before, a, mac));
  CA_TRY_STATUS(CheckMacRotation(a));
  CA_TRY_STATUS(w.PutExternalAccount(a));
  CA_TRY_STATUS(w.Audit(std::string(action), "external_account", kid, kid, "",
                        Public(before, ctx.now), Public(a, ctx.now)));
  CA_TRY_STATUS(w.Commit());
  return IssuedCredentials{std::move(a), std::move(mac)};
}

Result<size_t> MigrateMacKeysToHsm(const AdminContext& ctx, const Secret& legacy_wrap_key,
                                   const EVP_PKEY* hsm_wrap_public) {
  auto snapshot = CA_TRY(ctx.store->Snapshot());  // the RA is the only writer
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  size_t migrated = 0;
  for (const auto& before : snapshot.ExternalAccounts()) {
    if (!IsLegacyWrappedMac(before)) continue;
    Secret mac = CA_TRY(UnwrapMacKey(before, legacy_wrap_key));
    ExternalAccount a = before;
    a.mac_wrapped = CA_TRY(WrapMacKeyForHsm(a.kid, mac, hsm_wrap_public));
    a.updated_at = ctx.now;
    CA_TRY_STATUS(w.PutExternalAccount(a));
    CA_TRY_STATUS(w.Audit("ext-account.migrate-mac-key", "external_account", a.kid, a.kid, "",
                          Public(before, ctx.now), Public(a, ctx.now)));
    ++migrated;
  }
  if (migrated > 0) CA_TRY_STATUS(w.Commit());
  return migrated;
}

Result<DomainEntry> AddDomain(const AdminContext& ctx, const std::string& kid,
                              const std::string& fqdn, const DomainFields& f) {
  std::string name = CA_TRY(NormalizeFqdn(fqdn, /*allow_wildcard=*/true));
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  ExternalAccount a = CA_TRY(LoadExternalAccount(w, kid));
  CA_TRY_STATUS(RefuseFinal(a));
  if (w.FindDomain(kid, name)) {
    return Fail(ErrorCode::kAlreadyExists,
                "domain " + name + " is already listed for external account " + kid);
  }
  DomainEntry d;
  d.fqdn = name;
  d.external_account_kid = kid;
  d.organization_id = f.organization_id.value_or(a.organization_id);
  if (!w.FindOrganization(d.organization_id)) {
    return Fail(ErrorCode::kNotFound, "unknown organization " + d.organization_id);
  }
  d.include_subdomains = f.include_subdomains;
  d.dcv_methods = f.dcv_methods;
  Dedupe(d.dcv_methods);
  if (d.wildcard()) {
    if (!a.AllowsProfile(ProfileId::kWild)) {
      return Invalid("wildcard domain " + name +
                     " needs the WILD profile, which external account " + kid + " does not allow");
    }
    if (d.dcv_methods.empty()) d.dcv_methods = {"dns-01"};
    if (d.dcv_methods != std::vector<std::string>{"dns-01"}) {
      return Invalid("wildcard domain " + name + " can only be validated with dns-01");
    }
  } else if (d.dcv_methods.empty()) {
    d.dcv_methods = a.allowed_challenges;
  }
  for (const auto& m : d.dcv_methods) {
    if (!IsChallengeType(m))
      return Invalid("unknown challenge type '" + m + "' (http-01, dns-01, tls-alpn-01)");
    if (!a.AllowsChallenge(m)) {
      return Invalid("challenge type " + m + " is not allowed for external account " + kid);
    }
  }
  d.created_at = d.updated_at = ctx.now;
  CA_TRY_STATUS(w.PutDomain(d));
  CA_TRY_STATUS(w.Audit("domain.add", "domain", name, kid, name, nullptr, ToJson(d)));
  CA_TRY_STATUS(w.Commit());
  return d;
}

Status RemoveDomain(const AdminContext& ctx, const std::string& kid, const std::string& fqdn) {
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  std::string name;
  DomainEntry d = CA_TRY(LoadDomain(w, kid, fqdn, &name));
  CA_TRY_STATUS(w.DeleteDomain(kid, name));
  CA_TRY_STATUS(w.Audit("domain.remove", "domain", name, kid, name, ToJson(d), nullptr));
  return w.Commit();
}

Result<DomainEntry> SetDomainStatus(const AdminContext& ctx, const std::string& kid,
                                    const std::string& fqdn, DomainStatus to) {
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  std::string name;
  DomainEntry before = CA_TRY(LoadDomain(w, kid, fqdn, &name));
  if (before.status == to) return before;  // a repeated command is a no-op
  auto next = NextDomainStatus(before.status, to);
  if (!next) return Fail(next.error().code, "domain " + name + ": " + next.error().message);
  DomainEntry d = before;
  d.status = *next;
  d.updated_at = ctx.now;
  CA_TRY_STATUS(w.PutDomain(d));
  std::string action = to == DomainStatus::kValid ? "domain.validate" : "domain.invalidate";
  CA_TRY_STATUS(w.Audit(action, "domain", name, kid, name, ToJson(before), ToJson(d)));
  CA_TRY_STATUS(w.Commit());
  return d;
}

namespace {

// Shared shape of every ACME-account change: load (or default) the record, mutate, audit, commit.
template <class Fn>
Result<AcmeAccountPolicy> ChangeAcmeAccount(const AdminContext& ctx, const AcmeAccountRef& ref,
                                            const std::string& action, Fn mutate) {
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  bool existed = w.FindAcmeAccountPolicy(ref.id).has_value();
  AcmeAccountPolicy before = AcmeAccountPolicyOrDefault(w, ref);
  AcmeAccountPolicy p = before;
  CA_TRY_STATUS(mutate(w, p));
  p.updated_at = ctx.now;
  CA_TRY_STATUS(w.PutAcmeAccountPolicy(p));
  CA_TRY_STATUS(w.Audit(action, "acme_account", ref.id, ref.id, "",
                        existed ? ToJson(before) : json(nullptr), ToJson(p)));
  CA_TRY_STATUS(w.Commit());
  return p;
}

}  // namespace

Result<AcmeAccountPolicy> AcmeAccountLifecycle(const AdminContext& ctx, const AcmeAccountRef& ref,
                                               AccountAction action, int reason) {
  {
    auto r = CA_TRY(ctx.store->Snapshot());
    AcmeAccountPolicy current = AcmeAccountPolicyOrDefault(r, ref);
    if (AlreadyDone(current.status, action)) return current;  // nothing written, nothing audited
  }
  if (action != AccountAction::kRevoke) {
    return ChangeAcmeAccount(
        ctx, ref, "acme-account." + std::string(AccountActionName(action)),
        [&](PolicyWriteTxn&, AcmeAccountPolicy& p) -> Status {
          auto next = NextAcmeAccountStatus(p.status, action);
          if (!next) {
            return Fail(next.error().code, "ACME account " + ref.id + ": " + next.error().message);
          }
          p.status = *next;
          return Ok();
        });
  }
  // Revoke: same as above plus one durable mass revocation with the given reason.
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  bool existed = w.FindAcmeAccountPolicy(ref.id).has_value();
  AcmeAccountPolicy before = AcmeAccountPolicyOrDefault(w, ref);
  auto next = NextAcmeAccountStatus(before.status, action);
  if (!next) return Fail(next.error().code, "ACME account " + ref.id + ": " + next.error().message);
  AcmeAccountPolicy p = before;
  p.status = *next;
  p.updated_at = ctx.now;
  CA_TRY_STATUS(w.PutAcmeAccountPolicy(p));
  MassRevocation m;
  m.acme_account_id = ref.id;
  m.external_account_kid = ref.external_account_kid;
  m.reason = reason;
  auto recorded = CA_TRY(w.RecordMassRevocation(m));
  json after = ToJson(p);
  after["mass_revocation"] = ToJson(recorded);
  CA_TRY_STATUS(w.Audit("acme-account.revoke", "acme_account", ref.id, ref.id, "",
                        existed ? ToJson(before) : json(nullptr), after));
  CA_TRY_STATUS(w.Commit());
  return p;
}

Result<MassRevocation> RevokeCertificate(const AdminContext& ctx, const CertificateRef& cert,
                                         int reason) {
  auto serial = pki::Serial::FromHex(cert.serial_hex);
  if (!serial)
    return Fail(ErrorCode::kInvalidArgument, "not a canonical serial: " + cert.serial_hex);
  auto w = CA_TRY(ctx.store->BeginWrite(ctx.actor, ctx.now));
  MassRevocation m;
  m.serial_hex = serial->Hex();
  m.acme_account_id = cert.acme_account_id;
  m.external_account_kid = cert.external_account_kid;
  m.reason = reason;
  auto recorded = CA_TRY(w.RecordMassRevocation(m));
  CA_TRY_STATUS(w.Audit("certificate.revoke", "certificate", m.serial_hex,
                        cert.external_account_kid, "", nullptr, ToJson(recorded)));
  CA_TRY_STATUS(w.Commit());
  return recorded;
}

Result<AcmeAccountPolicy> SetAcmeAccountProfile(const AdminContext& ctx, const AcmeAccountRef& ref,
                                                ProfileId profile) {
  return ChangeAcmeAccount(
      ctx, ref, "acme-account.set-profile", [&](PolicyWriteTxn& w, AcmeAccountPolicy& p) -> Status {
        ExternalAccount a = CA_TRY(LoadExternalAccount(w, ref.external_account_kid));
        if (!a.AllowsProfile(profile)) {
          return Invalid("profile " + std::string(ProfileName(profile)) +
                         " is not allowed for external account " + a.kid);
        }
        if (p.status == AcmeAccountStatus::kRevoked ||
            p.status == AcmeAccountStatus::kDeactivated) {
          return Fail(ErrorCode::kFailedPrecondition,
                      "ACME account " + ref.id + " is " +
                          std::string(AcmeAccountStatusName(p.status)) + " (final)");
        }
        p.profile = profile;
        return Ok();
      });
}

Result<AcmeAccountPolicy> SetAcmeAccountDomains(const AdminContext& ctx, const AcmeAccountRef& ref,
                                                const std::vector<std::string>& fqdns) {
  return ChangeAcmeAccount(
      ctx, ref, "acme-account.set-domains", [&](PolicyWriteTxn& w, AcmeAccountPolicy& p) -> Status {
        std::vector<std::string> names;
        for (const auto& f : fqdns) {
          std::string n = CA_TRY(NormalizeFqdn(f, /*allow_wildcard=*/true));
          if (!w.FindDomain(ref.external_account_kid, n)) {
            return Fail(
                ErrorCode::kNotFound,
                "domain " + n + " is not listed for external account " + ref.external_account_kid);
          }
          if (std::ranges::find(names, n) == names.end()) names.push_back(n);
        }
        p.domains = std::move(names);
        return Ok();
      });
}

Result<AcmeAccountPolicy> SetAcmeAccountExpiry(const AdminContext& ctx, const AcmeAccountRef& ref,
                                               int64_t not_after) {
  return ChangeAcmeAccount(ctx, ref, "acme-account.set-expiry",
                           [&](PolicyWriteTxn&, AcmeAccountPolicy& p) -> Status {
                             if (not_after < 0) return Invalid("expiry must not be negative");
                             p.not_after = not_after;
                             return Ok();
                           });
}

}  // namespace ca::profiles::policy::admin
