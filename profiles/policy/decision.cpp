#include "profiles/policy/decision.h"

#include <algorithm>

#include "profiles/policy/fqdn.h"

namespace ca::profiles::policy {

namespace {

struct CodeName {
  ResultCode code;
  std::string_view name;
};

constexpr CodeName kCodeNames[] = {
    {ResultCode::kOk, "OK"},
    {ResultCode::kDeactivatedAccount, "DEACTIVATED_ACCOUNT"},
    {ResultCode::kDeactivatedExternalAccount, "DEACTIVATED_EXTERNAL_ACCOUNT"},
    {ResultCode::kDomainNotAssociated, "DOMAIN_NOT_ASSOCIATED"},
    {ResultCode::kDomainNotFound, "DOMAIN_NOT_FOUND"},
    {ResultCode::kExpiredAccount, "EXPIRED_ACCOUNT"},
    {ResultCode::kExpiredExternalAccount, "EXPIRED_EXTERNAL_ACCOUNT"},
    {ResultCode::kExternalAccountNotFound, "EXTERNAL_ACCOUNT_NOT_FOUND"},
    {ResultCode::kInvalidDnsCaa, "INVALID_DNSCAA"},
    {ResultCode::kInvalidDomain, "INVALID_DOMAIN"},
    {ResultCode::kInvalidDomainForWildcardProfile, "INVALID_DOMAIN_FOR_WILDCARD_PROFILE"},
    {ResultCode::kInvalidProfileForWildcard, "INVALID_PROFILE_FOR_WILDCARD"},
    {ResultCode::kNoDocumentFormFound, "NO_DOCUMENT_FORM_FOUND"},
    {ResultCode::kNoValidOrganizationDocumentFound, "NO_VALID_ORGANIZATION_DOCUMENT_FOUND"},
    {ResultCode::kNotSameOrganization, "NOT_SAME_ORGANIZATION"},
    {ResultCode::kOrganizationIsNotValid, "ORGANIZATION_IS_NOT_VALID"},
    {ResultCode::kOutOfCredit, "OUT_OF_CREDIT"},
    {ResultCode::kPendingExternalAccount, "PENDING_EXTERNAL_ACCOUNT"},
    {ResultCode::kRateLimited, "RATE_LIMITED"},
    {ResultCode::kRevokedAccount, "REVOKED_ACCOUNT"},
    {ResultCode::kRevokedExternalAccount, "REVOKED_EXTERNAL_ACCOUNT"},
    {ResultCode::kSuspendedAccount, "SUSPENDED_ACCOUNT"},
    {ResultCode::kSuspendedExternalAccount, "SUSPENDED_EXTERNAL_ACCOUNT"},
    {ResultCode::kUnauthorizedDomain, "UNAUTHORIZED_DOMAIN"},
    {ResultCode::kAcmeOrderNotRead, "ACME_ORDER_NOT_READ"},
    {ResultCode::kAcmeRequestNotFound, "ACME_REQUEST_NOT_FOUND"},
    {ResultCode::kAcmeOrderFinalizeError, "ACME_ORDER_FINALIZE_ERROR"},
    {ResultCode::kAcmeCaError, "ACME_CA_ERROR"},
    {ResultCode::kAcmeOtherError, "ACME_OTHER_ERROR"},
    {ResultCode::kProfileNotAllowed, "PROFILE_NOT_ALLOWED"},
    {ResultCode::kStagingNotAllowed, "STAGING_NOT_ALLOWED"},
};

Decision Refuse(ResultCode code, std::string name, std::string detail) {
  return Decision{code, std::move(name), std::move(detail)};
}

}  // namespace

std::string_view ResultCodeName(ResultCode code) {
  for (const auto& c : kCodeNames) {
    if (c.code == code) return c.name;
  }
  return "ACME_OTHER_ERROR";
}

std::optional<ResultCode> ParseResultCode(std::string_view name) {
  for (const auto& c : kCodeNames) {
    if (c.name == name) return c.code;
  }
  return std::nullopt;
}

ProfileId EffectiveProfile(const PolicySnapshot& snapshot, const AccountFacts& account) {
  auto p = snapshot.FindAcmeAccountPolicy(account.acme_account_id);
  return (p && p->profile) ? *p->profile : account.profile;
}

std::optional<DomainEntry> FindAuthorizingDomain(const PolicyReader& reader, std::string_view kid,
                                                 std::string_view name, ProfileId profile) {
  if (auto exact = reader.FindDomain(kid, name)) return exact;
  // SSL_RGS: every FQDN must be listed itself (technical document, DOMAIN_NOT_FOUND).
  if (profile == ProfileId::kSslRgs) return std::nullopt;
  bool wildcard = IsWildcardName(name);
  std::string_view base = wildcard ? name.substr(2) : name;
  // Walk up the parents, nearest first; a single label (a TLD) is never an entry.
  for (size_t dot = base.find('.'); dot != std::string_view::npos; dot = base.find('.')) {
    base.remove_prefix(dot + 1);
    if (base.find('.') == std::string_view::npos) break;
    std::string key = wildcard ? "*." + std::string(base) : std::string(base);
    auto parent = reader.FindDomain(kid, key);
    if (parent && parent->include_subdomains) return parent;
  }
  return std::nullopt;
}

namespace {

// 1. Account state; on success `ext` and `acme` are the accounts' policy records.
Decision CheckAccounts(const PolicySnapshot& snapshot, const AccountFacts& account, int64_t now_unix,
                       std::optional<ExternalAccount>& ext_out,
                       std::optional<AcmeAccountPolicy>& acme_out) {
  auto ext = snapshot.FindExternalAccount(account.external_account_kid);
  if (!ext) {
    return Refuse(ResultCode::kExternalAccountNotFound, "",
                  "external account " + account.external_account_kid + " does not exist");
  }
  auto acme = snapshot.FindAcmeAccountPolicy(account.acme_account_id);
  if (acme && acme->external_account_kid != account.external_account_kid) {
    return Refuse(ResultCode::kExternalAccountNotFound, "",
                  "ACME account " + account.acme_account_id +
                      " is bound to another external account in the policy");
  }
  if (acme && acme->status == AcmeAccountStatus::kRevoked) {
    return Refuse(ResultCode::kRevokedAccount, "",
                  "ACME account " + account.acme_account_id + " is revoked");
  }
  if ((acme && acme->status == AcmeAccountStatus::kDeactivated) || account.client_deactivated) {
    return Refuse(ResultCode::kDeactivatedAccount, "",
                  "ACME account " + account.acme_account_id + " is deactivated");
  }
  if (acme && acme->status == AcmeAccountStatus::kSuspended) {
    return Refuse(ResultCode::kSuspendedAccount, "",
                  "ACME account " + account.acme_account_id + " is suspended");
  }
  if (acme && acme->not_after != 0 && now_unix > acme->not_after) {
    return Refuse(
        ResultCode::kExpiredAccount, "",
        "ACME account " + account.acme_account_id + " expired at " + FormatTime(acme->not_after));
  }
  const std::string& kid = ext->kid;
  switch (ext->status) {
    case ExternalAccountStatus::kRevoked:
      return Refuse(ResultCode::kRevokedExternalAccount, "",
                    "external account " + kid + " is revoked");
    case ExternalAccountStatus::kDeactivated:
      return Refuse(ResultCode::kDeactivatedExternalAccount, "",
                    "external account " + kid + " is deactivated");
    case ExternalAccountStatus::kSuspended:
      return Refuse(ResultCode::kSuspendedExternalAccount, "",
                    "external account " + kid + " is suspended");
    case ExternalAccountStatus::kPending:
      return Refuse(ResultCode::kPendingExternalAccount, "",
                    "external account " + kid + " is pending");
    case ExternalAccountStatus::kActive:
      break;
  }
  if (ext->NotYetValid(now_unix)) {
    return Refuse(ResultCode::kPendingExternalAccount, "",
                  "external account " + kid + " is valid only from " + FormatTime(ext->not_before));
  }
  if (ext->Expired(now_unix)) {
    return Refuse(ResultCode::kExpiredExternalAccount, "",
                  "external account " + kid + " expired at " + FormatTime(ext->not_after));
  }
  auto account_org = snapshot.FindOrganization(ext->organization_id);
  if (!account_org || account_org->status != OrgStatus::kValid) {
    return Refuse(ResultCode::kOrganizationIsNotValid, "",
                  "organization " + ext->organization_id + " of external account " + kid + " is " +
                      (account_org ? std::string(OrgStatusName(account_org->status)) : "missing"));
  }
  if (account.staging_grant_required && !ext->staging) {
    return Refuse(ResultCode::kStagingNotAllowed, "",
                  "external account " + kid + " may not use the staging service");
  }

  ext_out = std::move(ext);
  acme_out = std::move(acme);
  return Decision{};
}

// 2. Profile: the account's profile is allowed by the external account and the order asks for it.
Decision CheckProfile(const ExternalAccount& ext, ProfileId profile, ProfileId requested_profile) {
  const std::string& kid = ext.kid;
  if (!ext.AllowsProfile(profile)) {
    return Refuse(ResultCode::kProfileNotAllowed, "",
                  "profile " + std::string(ProfileName(profile)) +
                      " is not allowed for external account " + kid);
  }
  if (requested_profile != profile) {
    return Refuse(ResultCode::kProfileNotAllowed, "",
                  "the order asks for profile " + std::string(ProfileName(requested_profile)) +
                      " but the ACME account's profile is " + std::string(ProfileName(profile)));
  }

  return Decision{};
}

// 3. One name: syntax, wildcard vs profile, an authorising entry exists, the per-account domain
// subset includes it, entry status, same organization as the first name, that organization valid.
Decision CheckName(const PolicySnapshot& snapshot, const AccountFacts& account,
                   const std::string& kid, const std::optional<AcmeAccountPolicy>& acme,
                   ProfileId profile, const std::string& raw, std::string& first_org) {
  auto normalised = NormalizeFqdn(raw, /*allow_wildcard=*/true);
  if (!normalised) return Refuse(ResultCode::kInvalidDomain, raw, normalised.error().message);
  const std::string& name = *normalised;
  bool wildcard = IsWildcardName(name);
  if (profile == ProfileId::kWild && !wildcard) {
    return Refuse(
        ResultCode::kInvalidDomainForWildcardProfile, raw,
        "the account's profile is WILD: only wildcard names (*.domain) may be requested");
  }
  if (profile != ProfileId::kWild && wildcard) {
    return Refuse(ResultCode::kInvalidProfileForWildcard, raw,
                  "wildcard names need the WILD profile; the account's profile is " +
                      std::string(ProfileName(profile)));
  }
  auto entry = FindAuthorizingDomain(snapshot, kid, name, profile);
  if (!entry) {
    return Refuse(
        ResultCode::kDomainNotFound, raw,
        name + " is not in the domain list of external account " + kid +
            (profile == ProfileId::kSslRgs ? " (SSL_RGS needs every FQDN listed)" : ""));
  }
  if (acme && !acme->domains.empty() &&
      std::ranges::find(acme->domains, entry->fqdn) == acme->domains.end()) {
    return Refuse(
        ResultCode::kDomainNotAssociated, raw,
        entry->fqdn + " is not among the domains of ACME account " + account.acme_account_id);
  }
  if (entry->status == DomainStatus::kInvalid) {
    return Refuse(ResultCode::kInvalidDomain, raw, "domain entry " + entry->fqdn + " is invalid");
  }
  if (entry->status != DomainStatus::kValid) {
    return Refuse(ResultCode::kUnauthorizedDomain, raw,
                  "domain entry " + entry->fqdn + " is not validated yet (pending)");
  }
  if (first_org.empty()) {
    first_org = entry->organization_id;
  } else if (entry->organization_id != first_org) {
    return Refuse(ResultCode::kNotSameOrganization, raw,
                  name + " belongs to organization " + entry->organization_id +
                      ", the order's first name to " + first_org);
  }
  auto org = snapshot.FindOrganization(entry->organization_id);
  if (!org || org->status != OrgStatus::kValid) {
    return Refuse(ResultCode::kOrganizationIsNotValid, raw,
                  "organization " + entry->organization_id + " of " + entry->fqdn + " is " +
                      (org ? std::string(OrgStatusName(org->status)) : "missing"));
  }
  return Decision{};
}

}  // namespace

// Order of checks (the first failure wins, so a client always gets the most fundamental reason):
//  1. account state: the external account exists; the ACME account's own state (RA status
//     revoked > deactivated, client deactivation, suspended, RA expiry); then the external
//     account's state (revoked > deactivated > suspended > pending > not yet valid > expired),
//     which cascades to all its ACME accounts; then its organization is valid.
//  2. profile: the account's profile is allowed by the external account and the order asks for it.
//  3. names, in the order given; for each: syntax, wildcard vs profile, an authorising entry
//  exists,
//     the per-account domain subset includes it, entry status, same organization as the first
//     name, that organization valid. The first failing name is returned.
Decision Decide(const PolicySnapshot& snapshot, const AccountFacts& account,
                std::span<const std::string> names, ProfileId requested_profile, int64_t now_unix) {
  std::optional<ExternalAccount> ext;
  std::optional<AcmeAccountPolicy> acme;
  if (Decision d = CheckAccounts(snapshot, account, now_unix, ext, acme); !d.ok()) return d;
  ProfileId profile = (acme && acme->profile) ? *acme->profile : account.profile;
  if (Decision d = CheckProfile(*ext, profile, requested_profile); !d.ok()) return d;
  if (names.empty()) return Refuse(ResultCode::kInvalidDomain, "", "the order has no identifiers");
  std::string first_org;
  for (const std::string& raw : names) {
    Decision d = CheckName(snapshot, account, ext->kid, acme, profile, raw, first_org);
    if (!d.ok()) return d;
  }
  return Decision{};
}

}  // namespace ca::profiles::policy
