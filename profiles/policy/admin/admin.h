// The registration authority's operations (the writer side of the policy store). Each operation
// validates its input, runs in ONE write transaction together with its audit record, and either
// commits everything or changes nothing (one clear error line).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"
#include "common/secret.h"
#include "profiles/policy/admin/lifecycle.h"
#include "profiles/policy/admin/writer.h"
#include "profiles/policy/model.h"
#include "profiles/policy/store.h"

namespace ca::profiles::policy::admin {

inline constexpr int kMaxExternalAccountYears = 3;

struct AdminContext {
  const PolicyWriter* store = nullptr;
  std::string actor;
  int64_t now = 0;
};

struct OrganizationFields {
  std::optional<std::string> name, country, locality, registration_id;
};

struct ExternalAccountFields {
  std::optional<std::string> organization_id;  // create only
  std::optional<std::vector<std::string>> contacts;
  std::optional<int64_t> not_before, not_after;
  std::optional<std::vector<ProfileId>> allowed_profiles;
  std::optional<std::vector<std::string>> allowed_challenges;
  std::optional<uint32_t> max_acme_accounts, orders_per_hour;
  std::optional<ReportPeriod> report_period;
  std::optional<bool> staging;
  // MAC key rotation (R9, mac_rotation.h): the period in days (0: never) and the requester's RSA
  // public key (PEM) that rotated keys are sealed to.
  std::optional<uint32_t> mac_rotation_days;
  std::optional<std::string> mac_recipient_key_pem;
};

struct DomainFields {
  std::optional<std::string> organization_id;  // default: the external account's organization
  bool include_subdomains = false;
  std::vector<std::string> dcv_methods;  // empty: the external account's challenge types
};

// What the RA knows of an ACME account from the gateway's store.
struct AcmeAccountRef {
  std::string id;
  std::string external_account_kid;
  ProfileId profile = ProfileId::kSsl;
};

struct IssuedCredentials {
  ExternalAccount account;
  Secret mac_key;  // raw; shown once (MacKeyToText), never stored in clear nor audited
};

Result<Organization> CreateOrganization(const AdminContext& ctx, const OrganizationFields& f);
Result<Organization> UpdateOrganization(const AdminContext& ctx, const std::string& id,
                                        const OrganizationFields& f);
Result<Organization> SetOrganizationStatus(const AdminContext& ctx, const std::string& id,
                                           OrgStatus to);

// Creates a pending external account (active when `activate`) with a fresh KeyID and MAC key.
Result<IssuedCredentials> CreateExternalAccount(const AdminContext& ctx,
                                                const ExternalAccountFields& f, bool activate,
                                                const EVP_PKEY* hsm_wrap_public);
Result<ExternalAccount> UpdateExternalAccount(const AdminContext& ctx, const std::string& kid,
                                              const ExternalAccountFields& f);
// revoke records one mass revocation for the whole external account (reason: RFC 5280 code).
Result<ExternalAccount> ExternalAccountLifecycle(const AdminContext& ctx, const std::string& kid,
                                                 AccountAction action, int reason = 9);
// A new MAC key wrapped to the HSM (mac_key.h); the previous one stops working at once. Its
// rotation schedule (mac_rotation.h) restarts from now. `recipient_key_pem`, when not empty,
// becomes the account's registered recipient key (the one this hand-over was sealed to).
Result<IssuedCredentials> RegenerateMacKey(const AdminContext& ctx, const std::string& kid,
                                           const EVP_PKEY* hsm_wrap_public,
                                           const std::string& recipient_key_pem = "");
// RegenerateMacKey's one implementation, also the scheduled rotation's (mac_rotation.h): `action`
// names the audit record; `amend` (may be empty) sees the record as it was and with the new key
// before it is written in the same transaction, and may change it or refuse (nothing written).
using MacKeyAmend = std::function<Status(const ExternalAccount& before, ExternalAccount& after,
                                         const Secret& new_mac_key)>;
Result<IssuedCredentials> ReplaceMacKey(const AdminContext& ctx, const std::string& kid,
                                        const EVP_PKEY* hsm_wrap_public, std::string_view action,
                                        const MacKeyAmend& amend);

// Upgrade from the wrapping-key file (before issue 18): every MAC key still wrapped under
// `legacy_wrap_key` is unwrapped and wrapped to the HSM, in one write, one audit record per
// account (no key material in it). Returns how many were migrated; a record that does not unwrap
// refuses the whole migration (kCrypto), nothing written.
Result<size_t> MigrateMacKeysToHsm(const AdminContext& ctx, const Secret& legacy_wrap_key,
                                   const EVP_PKEY* hsm_wrap_public);

Result<DomainEntry> AddDomain(const AdminContext& ctx, const std::string& kid,
                              const std::string& fqdn, const DomainFields& f);
Status RemoveDomain(const AdminContext& ctx, const std::string& kid, const std::string& fqdn);
Result<DomainEntry> SetDomainStatus(const AdminContext& ctx, const std::string& kid,
                                    const std::string& fqdn, DomainStatus to);

// ACME-account actions; revoke records one mass revocation for the ACME account.
Result<AcmeAccountPolicy> AcmeAccountLifecycle(const AdminContext& ctx, const AcmeAccountRef& ref,
                                               AccountAction action, int reason = 9);
Result<AcmeAccountPolicy> SetAcmeAccountProfile(const AdminContext& ctx, const AcmeAccountRef& ref,
                                                ProfileId profile);
// Empty `fqdns`: no restriction (every domain of the external account).
Result<AcmeAccountPolicy> SetAcmeAccountDomains(const AdminContext& ctx, const AcmeAccountRef& ref,
                                                const std::vector<std::string>& fqdns);
// 0: no expiry of its own.
Result<AcmeAccountPolicy> SetAcmeAccountExpiry(const AdminContext& ctx, const AcmeAccountRef& ref,
                                               int64_t not_after);

// Dashboard credentials (profiles/policy/dashboard_credential.h): a fresh one replaces the previous
// (which stops working at the dashboard's next login), only its SHA-256 is stored, and the change
// is audited without the hash. The credential is returned to be shown once.
struct IssuedDashboardCredential {
  std::string id;     // kid or operator name
  Secret credential;  // the whole login text
};
Result<IssuedDashboardCredential> IssueAccountDashboardCredential(const AdminContext& ctx,
                                                                  const std::string& kid);
Result<IssuedDashboardCredential> IssueOperatorDashboardCredential(const AdminContext& ctx,
                                                                   const std::string& name);

// One issued certificate, as the gateway store names it (the RA looks it up there first, so that
// an unknown serial is refused with a clear line).
struct CertificateRef {
  std::string serial_hex;  // canonical (pki::Serial::Hex)
  std::string acme_account_id;
  std::string external_account_kid;
};
// Records the revocation of one certificate for the engine to apply (as a mass revocation of one
// serial), with its audit record "certificate.revoke".
Result<MassRevocation> RevokeCertificate(const AdminContext& ctx, const CertificateRef& cert,
                                         int reason = 9);

// The ACME account's policy record, or the default one (active, no restriction) when the RA never
// acted on it.
AcmeAccountPolicy AcmeAccountPolicyOrDefault(const PolicyReader& reader, const AcmeAccountRef& ref);

}  // namespace ca::profiles::policy::admin
