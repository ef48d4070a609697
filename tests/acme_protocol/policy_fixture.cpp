// Test helper for the ACME protocol tests: writes a policy store through the RA's own library
// (profiles/policy/admin/admin.h), the way `ca-ra` would.
//   policy_fixture init DIR        -> DIR/policy, DIR/wrap.key; prints {"kid","mac","kid2","mac2"} JSON
//   policy_fixture suspend DIR KID -> suspends the external account
#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "profiles/policy/admin/admin.h"
#include "profiles/policy/mac_key.h"

namespace {
using namespace ca::profiles::policy;
using namespace ca::profiles::policy::admin;

int Die(const std::string& m) {
  std::fprintf(stderr, "policy_fixture: %s\n", m.c_str());
  return 1;
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

ca::Result<IssuedCredentials> MakeAccount(const AdminContext& ctx, const std::string& org, const ca::Secret& wrap,
                                          ProfileId profile, const std::vector<std::string>& domains,
                                          uint32_t max_acme_accounts) {
  ExternalAccountFields f;
  f.organization_id = org;
  f.contacts = std::vector<std::string>{"ops@example.com"};
  f.not_before = ctx.now - 60;
  f.not_after = ctx.now + 365 * 86400;
  f.allowed_profiles = std::vector<ProfileId>{profile};
  f.allowed_challenges = std::vector<std::string>{"http-01", "dns-01"};
  f.max_acme_accounts = max_acme_accounts;
  f.orders_per_hour = 100;
  auto creds = CA_TRY(CreateExternalAccount(ctx, f, /*activate=*/true, wrap));
  for (const auto& d : domains) {
    CA_TRY(AddDomain(ctx, creds.account.kid, d, DomainFields{}));
    CA_TRY(SetDomainStatus(ctx, creds.account.kid, d, DomainStatus::kValid));
  }
  return creds;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Die("usage: policy_fixture init DIR | suspend DIR KID");
  std::string cmd = argv[1], dir = argv[2];
  std::string policy_dir = dir + "/policy", wrap_path = dir + "/wrap.key";
  if (cmd == "init") {
    if (auto s = CreateWrapKeyFile(wrap_path, ""); !s) return Die(s.error().ToString());
    auto wrap = LoadWrapKey(wrap_path);
    if (!wrap) return Die(wrap.error().ToString());
    auto store = PolicyWriter::Create(policy_dir, "fixture", Now());
    if (!store) return Die(store.error().ToString());
    AdminContext ctx{&*store, "fixture", Now()};
    OrganizationFields of;
    of.name = "Example SA";
    of.country = "FR";
    of.locality = "Paris";
    of.registration_id = "12345678900011";
    auto org = CreateOrganization(ctx, of);
    if (!org) return Die(org.error().ToString());
    if (auto s = SetOrganizationStatus(ctx, org->id, OrgStatus::kValid); !s) return Die(s.error().ToString());
    auto a = MakeAccount(ctx, org->id, *wrap, ProfileId::kSsl, {"a.example.com", "b.example.com"},
                         /*max_acme_accounts=*/1000);  // every test registers its own accounts
    if (!a) return Die(a.error().ToString());
    auto b = MakeAccount(ctx, org->id, *wrap, ProfileId::kSsl, {"c.example.com"}, /*max_acme_accounts=*/3);
    if (!b) return Die(b.error().ToString());
    auto c = MakeAccount(ctx, org->id, *wrap, ProfileId::kSsl, {"d.example.com"}, /*max_acme_accounts=*/3);
    if (!c) return Die(c.error().ToString());
    nlohmann::json out = {{"kid", a->account.kid}, {"mac", MacKeyToText(a->mac_key)},
                          {"kid2", b->account.kid}, {"mac2", MacKeyToText(b->mac_key)},
                          {"kid3", c->account.kid}, {"mac3", MacKeyToText(c->mac_key)},
                          {"policy", policy_dir}, {"wrap_key", wrap_path}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  if (cmd == "suspend" && argc == 4) {
    auto store = PolicyWriter::Open(policy_dir);
    if (!store) return Die(store.error().ToString());
    AdminContext ctx{&*store, "fixture", Now()};
    auto r = ExternalAccountLifecycle(ctx, argv[3], AccountAction::kSuspend);
    if (!r) return Die(r.error().ToString());
    return 0;
  }
  return Die("unknown command " + cmd);
}
