// Policy store records (profiles/policy/model.h): the JSON values of the policy snapshot, decoded
// as the gateway, the engine and ca-ra read them. Every record type decodes every input.
// Property: a record that decodes re-encodes to JSON that decodes to the same record.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz/seeds.h"
#include "profiles/policy/model.h"

namespace ca::fuzz {
namespace {

template <class Decode>
void RoundTrip(std::string_view text, Decode decode) {
  auto record = decode(text);
  if (!record) return;
  std::string encoded = profiles::policy::ToJson(*record).dump();
  auto again = decode(encoded);
  if (!again || profiles::policy::ToJson(*again).dump() != encoded) std::abort();
}

// One record of each type, as the policy store holds them.
void WriteSeeds(const SeedWriter& out) {
  namespace policy = profiles::policy;
  policy::Organization org{"0b6f3c1e-8d1a-4c59-9a53-1f0b0e1d2c3a", "Exemple SA", "FR", "Paris",
                           "12345678900011", policy::OrgStatus::kValid, 1700000000, 1700000500};
  out.Add("organization", policy::ToJson(org).dump());
  policy::ExternalAccount account;
  account.kid = "5f2a9e34-0c6d-4f1b-8a7e-2d3c4b5a6978";
  account.organization_id = org.id;
  account.contacts = {"Alice Martin <alice@example.org>"};
  account.not_before = 1700000000;
  account.not_after = 1731535999;
  account.allowed_profiles = {policy::ProfileId::kSsl, policy::ProfileId::kWild};
  account.allowed_challenges = {"http-01", "dns-01"};
  account.status = policy::ExternalAccountStatus::kActive;
  account.mac_wrapped = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  out.Add("external_account", policy::ToJson(account).dump());
  policy::DomainEntry domain{"*.example.org", account.kid, org.id, policy::DomainStatus::kValid, false,
                             {"dns-01"}, 1700000000, 1700000000};
  out.Add("domain", policy::ToJson(domain).dump());
  policy::AcmeAccountPolicy acme{"acct-1", account.kid, policy::AcmeAccountStatus::kSuspended,
                                 policy::ProfileId::kSslRgs, {"example.org"}, 1731535999, 1700000000};
  out.Add("acme_account", policy::ToJson(acme).dump());
  policy::MassRevocation mass{7, "", "", account.kid, 9, "privilegeWithdrawn", 1700000000, 12, "ra:alice"};
  out.Add("mass_revocation", policy::ToJson(mass).dump());
  policy::MassRevocation one{9, "0a11", "acct-1", account.kid, 4, "superseded", 1700000000, 13, "ra:alice"};
  out.Add("mass_revocation_one", policy::ToJson(one).dump());
  policy::AuditRecord audit{8, 1700000000, "ra:alice", "domain.create", "domain", domain.fqdn,
                            account.kid, domain.fqdn, nullptr, policy::ToJson(domain), 12};
  out.Add("audit", policy::ToJson(audit).dump());
  out.Add("time", "2026-11-23T02:33:34Z");
}

}  // namespace
}  // namespace ca::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ca::fuzz::MaybeWriteSeeds(ca::fuzz::WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace policy = ca::profiles::policy;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ca::fuzz::RoundTrip(text, policy::OrganizationFromJson);
  ca::fuzz::RoundTrip(text, policy::ExternalAccountFromJson);
  ca::fuzz::RoundTrip(text, policy::DomainEntryFromJson);
  ca::fuzz::RoundTrip(text, policy::AcmeAccountPolicyFromJson);
  ca::fuzz::RoundTrip(text, policy::MassRevocationFromJson);
  ca::fuzz::RoundTrip(text, policy::AuditRecordFromJson);
  (void)policy::ParseTime(text);
  return 0;
}
