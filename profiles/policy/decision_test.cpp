#include "profiles/policy/decision.h"

#include <gtest/gtest.h>

#include <functional>

#include "profiles/policy/admin/admin.h"
#include "profiles/policy/testing_util.h"

namespace ca::profiles::policy {
using namespace admin;  // the tests build stores through the write side
namespace {

using testing::TempDir;
using R = ResultCode;

constexpr int64_t kNotBefore = 1000;
const int64_t kNotAfter = AddYears(kNotBefore, 1);
constexpr int64_t kNow = 5000;

// One store per case: a valid organization A (the account's), a valid B, a pending P; an active
// external account of A allowing every profile with a set of domain entries; ACME account "acc".
struct World {
  TempDir dir;
  std::optional<PolicyWriter> store;
  std::string org_a, org_b, org_p, kid;
  AcmeAccountRef acme{"acc", "", ProfileId::kSsl};

  AdminContext Ctx() { return AdminContext{&*store, "test", kNow}; }

  World() {
    store.emplace(*PolicyWriter::Create(dir.Sub("p"), "test", 1));
    auto ctx = Ctx();
    org_a = CreateOrganization(ctx, {"Org A", "FR", "Paris", "1"})->id;
    org_b = CreateOrganization(ctx, {"Org B", "FR", "Lyon", "2"})->id;
    org_p = CreateOrganization(ctx, {"Org P", "FR", "Nice", "3"})->id;
    EXPECT_TRUE(SetOrganizationStatus(ctx, org_a, OrgStatus::kValid));
    EXPECT_TRUE(SetOrganizationStatus(ctx, org_b, OrgStatus::kValid));
    ExternalAccountFields f;
    f.organization_id = org_a;
    f.contacts = std::vector<std::string>{"Jane Doe"};
    f.not_before = kNotBefore;
    f.not_after = kNotAfter;
    f.allowed_profiles = std::vector<ProfileId>{ProfileId::kSsl, ProfileId::kSslRgs,
                                                ProfileId::kWild, ProfileId::kSslShort};
    f.allowed_challenges = std::vector<std::string>{"http-01", "dns-01"};
    kid = CreateExternalAccount(ctx, f, true, testing::SoftwareMacWrapKey())->account.kid;
    acme.external_account_kid = kid;
    Add("example.com", true, DomainStatus::kValid);
    Add("exact.fr", false, DomainStatus::kValid);
    Add("pending.com", true, DomainStatus::kPending);
    Add("bad.com", true, DomainStatus::kInvalid);
    Add("b-org.com", false, DomainStatus::kValid, org_b);
    Add("p-org.com", false, DomainStatus::kValid, org_p);
    Add("*.wild.com", true, DomainStatus::kValid);
    Add("*.nosub.com", false, DomainStatus::kValid);
  }

  void Add(const std::string& fqdn, bool subdomains, DomainStatus status, std::string org = "") {
    DomainFields f;
    f.include_subdomains = subdomains;
    if (!org.empty()) f.organization_id = org;
    auto d = AddDomain(Ctx(), kid, fqdn, f);
    ASSERT_TRUE(d) << d.error().ToString();
    if (status != DomainStatus::kPending) {
      ASSERT_TRUE(SetDomainStatus(Ctx(), kid, fqdn, status));
    }
  }
};

struct Case {
  std::string label;
  std::vector<std::string> names;
  ProfileId account_profile = ProfileId::kSsl;
  ProfileId requested = ProfileId::kSsl;
  R expected = R::kOk;
  std::string failing_name;
  std::function<void(World&)> setup = nullptr;
  int64_t now = kNow;
  bool client_deactivated = false;
  std::string kid_override;
};

void RunCase(const Case& c) {
  SCOPED_TRACE(c.label);
  World w;
  if (c.setup) c.setup(w);
  auto snap = w.store->Snapshot();
  ASSERT_TRUE(snap);
  AccountFacts facts{"acc", c.kid_override.empty() ? w.kid : c.kid_override, c.account_profile,
                     c.client_deactivated};
  Decision d = Decide(*snap, facts, c.names, c.requested, c.now);
  EXPECT_EQ(ResultCodeName(d.code), ResultCodeName(c.expected)) << d.detail;
  EXPECT_EQ(d.name, c.failing_name) << d.detail;
  EXPECT_EQ(d.ok(), c.expected == R::kOk);
  if (!d.ok()) {
    EXPECT_FALSE(d.detail.empty());
  }
}

using V = std::vector<std::string>;

TEST(Decide, AccountState) {
  const Case cases[] = {
      {"ok", V{"example.com"}},
      {"unknown external account", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kExternalAccountNotFound, "", nullptr, kNow, false, "no-such-kid"},
      {"client deactivated", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kDeactivatedAccount, "", nullptr, kNow, true},
      {"acme suspended", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl, R::kSuspendedAccount,
       "",
       [](World& w) {
         ASSERT_TRUE(AcmeAccountLifecycle(w.Ctx(), w.acme, AccountAction::kSuspend));
       }},
      {"acme reactivated", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl, R::kOk, "",
       [](World& w) {
         ASSERT_TRUE(AcmeAccountLifecycle(w.Ctx(), w.acme, AccountAction::kSuspend));
         ASSERT_TRUE(AcmeAccountLifecycle(w.Ctx(), w.acme, AccountAction::kReactivate));
       }},
      {"acme deactivated", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kDeactivatedAccount, "",
       [](World& w) {
         ASSERT_TRUE(AcmeAccountLifecycle(w.Ctx(), w.acme, AccountAction::kDeactivate));
       }},
      {"acme revoked", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl, R::kRevokedAccount, "",
       [](World& w) {
         ASSERT_TRUE(AcmeAccountLifecycle(w.Ctx(), w.acme, AccountAction::kRevoke));
       }},
      {"acme revoked beats external suspended", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kRevokedAccount, "",
       [](World& w) {
         ASSERT_TRUE(AcmeAccountLifecycle(w.Ctx(), w.acme, AccountAction::kRevoke));
         ASSERT_TRUE(ExternalAccountLifecycle(w.Ctx(), w.kid, AccountAction::kSuspend));
       }},
      {"acme expired", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl, R::kExpiredAccount, "",
       [](World& w) { ASSERT_TRUE(SetAcmeAccountExpiry(w.Ctx(), w.acme, kNow - 1)); }},
      {"acme expiry exactly now still valid", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kOk, "", [](World& w) { ASSERT_TRUE(SetAcmeAccountExpiry(w.Ctx(), w.acme, kNow)); }},
      {"external suspended", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kSuspendedExternalAccount, "",
       [](World& w) {
         ASSERT_TRUE(ExternalAccountLifecycle(w.Ctx(), w.kid, AccountAction::kSuspend));
       }},
      {"external deactivated", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kDeactivatedExternalAccount, "",
       [](World& w) {
         ASSERT_TRUE(ExternalAccountLifecycle(w.Ctx(), w.kid, AccountAction::kDeactivate));
       }},
      {"external revoked", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kRevokedExternalAccount, "",
       [](World& w) {
         ASSERT_TRUE(ExternalAccountLifecycle(w.Ctx(), w.kid, AccountAction::kRevoke));
       }},
      {"external pending", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kPendingExternalAccount, "",
       [](World& w) {
         ExternalAccountFields f;
         f.organization_id = w.org_a;
         f.contacts = std::vector<std::string>{"J"};
         f.not_before = kNotBefore;
         w.kid =
             CreateExternalAccount(w.Ctx(), f, false, testing::SoftwareMacWrapKey())->account.kid;
       }},
      {"not yet valid", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kPendingExternalAccount, "", nullptr, kNotBefore - 1},
      {"valid from exactly not_before", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl, R::kOk,
       "", nullptr, kNotBefore},
      {"one second before not_after", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl, R::kOk,
       "", nullptr, kNotAfter - 1},
      {"not_after exactly now (inclusive)", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kOk, "", nullptr, kNotAfter},
      {"one second after not_after", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kExpiredExternalAccount, "", nullptr, kNotAfter + 1},
      {"account organization not valid", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kOrganizationIsNotValid, "",
       [](World& w) { ASSERT_TRUE(SetOrganizationStatus(w.Ctx(), w.org_a, OrgStatus::kInvalid)); }},
  };
  for (const auto& c : cases) RunCase(c);
}

TEST(Decide, Profiles) {
  const Case cases[] = {
      {"requested differs from account profile", V{"example.com"}, ProfileId::kSsl,
       ProfileId::kSslRgs, R::kProfileNotAllowed},
      {"profile no longer allowed", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kProfileNotAllowed, "",
       [](World& w) {
         ExternalAccountFields f;
         f.allowed_profiles = std::vector<ProfileId>{ProfileId::kSslRgs};
         ASSERT_TRUE(UpdateExternalAccount(w.Ctx(), w.kid, f));
       }},
      {"SSL_SHORT not granted", V{"example.com"}, ProfileId::kSslShort, ProfileId::kSslShort,
       R::kProfileNotAllowed, "",
       [](World& w) {
         ExternalAccountFields f;
         f.allowed_profiles = std::vector<ProfileId>{ProfileId::kSsl};
         ASSERT_TRUE(UpdateExternalAccount(w.Ctx(), w.kid, f));
       }},
      {"RA grants SSL_SHORT to an ACME account", V{"exact.fr"}, ProfileId::kSsl,
       ProfileId::kSslShort, R::kOk, "",
       [](World& w) { ASSERT_TRUE(SetAcmeAccountProfile(w.Ctx(), w.acme, ProfileId::kSslShort)); }},
      {"RA override of the account profile", V{"exact.fr"}, ProfileId::kSsl, ProfileId::kSslRgs,
       R::kOk, "",
       [](World& w) { ASSERT_TRUE(SetAcmeAccountProfile(w.Ctx(), w.acme, ProfileId::kSslRgs)); }},
      {"override makes the recorded profile wrong", V{"exact.fr"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kProfileNotAllowed, "",
       [](World& w) { ASSERT_TRUE(SetAcmeAccountProfile(w.Ctx(), w.acme, ProfileId::kSslRgs)); }},
  };
  for (const auto& c : cases) RunCase(c);
}

TEST(Decide, NamesAndSubdomains) {
  const Case cases[] = {
      {"exact entry", V{"exact.fr"}},
      {"case and trailing dot normalised", V{"EXACT.fr."}},
      {"subdomain implied by include_subdomains", V{"www.example.com", "a.b.example.com"}},
      {"subdomain not implied without the flag", V{"www.exact.fr"}, ProfileId::kSsl,
       ProfileId::kSsl, R::kDomainNotFound, "www.exact.fr"},
      {"unknown domain", V{"example.com", "nowhere.net"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kDomainNotFound, "nowhere.net"},
      {"parent of an entry is not implied", V{"com.example"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kDomainNotFound, "com.example"},
      {"SSL_SHORT like SSL: include_subdomains honoured", V{"www.example.com", "exact.fr"},
       ProfileId::kSslShort, ProfileId::kSslShort},
      {"SSL_SHORT like SSL: not implied without the flag", V{"www.exact.fr"}, ProfileId::kSslShort,
       ProfileId::kSslShort, R::kDomainNotFound, "www.exact.fr"},
      {"SSL_RGS exact entry", V{"exact.fr", "example.com"}, ProfileId::kSslRgs, ProfileId::kSslRgs},
      {"SSL_RGS never honours include_subdomains", V{"example.com", "www.example.com"},
       ProfileId::kSslRgs, ProfileId::kSslRgs, R::kDomainNotFound, "www.example.com"},
      {"invalid syntax", V{"exa_mple.com"}, ProfileId::kSsl, ProfileId::kSsl, R::kInvalidDomain,
       "exa_mple.com"},
      {"no names", V{}, ProfileId::kSsl, ProfileId::kSsl, R::kInvalidDomain, ""},
      {"pending entry", V{"example.com", "pending.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kUnauthorizedDomain, "pending.com"},
      {"pending parent entry", V{"www.pending.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kUnauthorizedDomain, "www.pending.com"},
      {"invalid entry", V{"bad.com"}, ProfileId::kSsl, ProfileId::kSsl, R::kInvalidDomain,
       "bad.com"},
      {"two organizations", V{"example.com", "b-org.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kNotSameOrganization, "b-org.com"},
      {"domain organization other than account's, alone", V{"b-org.com"}},
      {"domain organization not valid", V{"p-org.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kOrganizationIsNotValid, "p-org.com"},
      {"first failing name is returned", V{"example.com", "nowhere.net", "bad.com"},
       ProfileId::kSsl, ProfileId::kSsl, R::kDomainNotFound, "nowhere.net"},
      {"removed entry", V{"exact.fr"}, ProfileId::kSsl, ProfileId::kSsl, R::kDomainNotFound,
       "exact.fr", [](World& w) { ASSERT_TRUE(RemoveDomain(w.Ctx(), w.kid, "exact.fr")); }},
      {"domain subset excludes", V{"example.com", "exact.fr"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kDomainNotAssociated, "exact.fr",
       [](World& w) { ASSERT_TRUE(SetAcmeAccountDomains(w.Ctx(), w.acme, {"example.com"})); }},
      {"domain subset covers subdomains of its entry", V{"www.example.com"}, ProfileId::kSsl,
       ProfileId::kSsl, R::kOk, "",
       [](World& w) { ASSERT_TRUE(SetAcmeAccountDomains(w.Ctx(), w.acme, {"example.com"})); }},
      {"domains of another external account", V{"example.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kDomainNotFound, "example.com",
       [](World& w) {
         ExternalAccountFields f;
         f.organization_id = w.org_a;
         f.contacts = std::vector<std::string>{"J"};
         f.not_before = kNotBefore;
         w.kid = CreateExternalAccount(w.Ctx(), f, true, testing::SoftwareMacWrapKey())->account.kid;
       }},
  };
  for (const auto& c : cases) RunCase(c);
}

TEST(Decide, Wildcards) {
  const Case cases[] = {
      {"WILD with wildcard entry", V{"*.wild.com"}, ProfileId::kWild, ProfileId::kWild},
      {"WILD deeper wildcard via include_subdomains", V{"*.a.wild.com"}, ProfileId::kWild,
       ProfileId::kWild},
      {"WILD deeper wildcard without flag", V{"*.a.nosub.com"}, ProfileId::kWild, ProfileId::kWild,
       R::kDomainNotFound, "*.a.nosub.com"},
      {"WILD non-wildcard name", V{"*.wild.com", "example.com"}, ProfileId::kWild, ProfileId::kWild,
       R::kInvalidDomainForWildcardProfile, "example.com"},
      {"SSL wildcard name", V{"example.com", "*.wild.com"}, ProfileId::kSsl, ProfileId::kSsl,
       R::kInvalidProfileForWildcard, "*.wild.com"},
      {"SSL_RGS wildcard name", V{"*.wild.com"}, ProfileId::kSslRgs, ProfileId::kSslRgs,
       R::kInvalidProfileForWildcard, "*.wild.com"},
      {"SSL_SHORT wildcard name", V{"*.wild.com"}, ProfileId::kSslShort, ProfileId::kSslShort,
       R::kInvalidProfileForWildcard, "*.wild.com"},
      {"non-wildcard entry does not authorise a wildcard", V{"*.example.com"}, ProfileId::kWild,
       ProfileId::kWild, R::kDomainNotFound, "*.example.com"},
      {"wildcard entry does not authorise its base name", V{"wild.com"}, ProfileId::kSsl,
       ProfileId::kSsl, R::kDomainNotFound, "wild.com"},
  };
  for (const auto& c : cases) RunCase(c);
}

// CA-8: with the staging service open per account, only external accounts the RA admitted
// (`staging`) pass; production requests and a staging service open to all do not look at it.
TEST(Decide, StagingNeedsTheRasGrantWhenPerAccount) {
  World w;
  auto decide = [&](bool grant_required) {
    auto snap = w.store->Snapshot();
    EXPECT_TRUE(snap);
    AccountFacts facts{"acc", w.kid, ProfileId::kSsl, false, grant_required};
    return Decide(*snap, facts, V{"example.com"}, ProfileId::kSsl, kNow);
  };
  Decision refused = decide(true);
  EXPECT_EQ(ResultCodeName(refused.code), "STAGING_NOT_ALLOWED");
  EXPECT_EQ(refused.detail, "external account " + w.kid + " may not use the staging service");
  EXPECT_TRUE(decide(false).ok());
  ExternalAccountFields grant;
  grant.staging = true;
  ASSERT_TRUE(UpdateExternalAccount(w.Ctx(), w.kid, grant));
  EXPECT_TRUE(decide(true).ok());
  EXPECT_TRUE(w.store->Snapshot()->FindExternalAccount(w.kid)->staging);
}

TEST(Decide, ResultCodeNamesRoundTrip) {
  EXPECT_EQ(ResultCodeName(R::kOk), "OK");
  EXPECT_EQ(ResultCodeName(R::kDomainNotFound), "DOMAIN_NOT_FOUND");
  EXPECT_EQ(ResultCodeName(R::kInvalidDnsCaa), "INVALID_DNSCAA");
  for (int i = 0; i <= static_cast<int>(R::kStagingNotAllowed); ++i) {
    auto code = static_cast<R>(i);
    auto back = ParseResultCode(ResultCodeName(code));
    ASSERT_TRUE(back) << i;
    EXPECT_EQ(*back, code);
  }
}

}  // namespace
}  // namespace ca::profiles::policy
