// Test helper for the ACME protocol tests: writes a policy store through the RA's own library
// (profiles/policy/admin/admin.h), the way `ca-ra` would.
//   policy_fixture engine DIR CA_ENGINE -> DIR/policy, MAC keys wrapped to the HSM key of a real
//       ca-engine that runs on that store until stdin closes or SIGTERM (fixture_engine.h); prints
//       {"kid","mac","kid2","mac2",...,"org","mac_wrap_public_key" (PEM file, for ca-ra),
//       "policy","engine":{socket,client_cert,...}} JSON
//   policy_fixture suspend|reactivate DIR KID -> suspends / reactivates the external account
//   policy_fixture acme-account DIR KID ID suspend|revoke -> the RA's action on an ACME account
//   policy_fixture dcv DIR KID FQDN METHODS -> the domain entry again, valid, with these DCV
//                                              methods (comma-separated)
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "profiles/policy/admin/admin.h"
#include "profiles/policy/mac_key.h"
#include "tests/acme_protocol/fixture_engine.h"

namespace {
using namespace ca::profiles::policy;
using namespace ca::profiles::policy::admin;

int Die(const std::string& m) {
  std::fprintf(stderr, "policy_fixture: %s\n", m.c_str());
  return 1;
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ca::Result<IssuedCredentials> MakeAccount(const AdminContext& ctx, const std::string& org,
                                          const EVP_PKEY* wrap, ProfileId profile,
                                          const std::vector<std::string>& domains,
                                          uint32_t max_acme_accounts,
                                          const DomainFields& fields = {}) {
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
    CA_TRY(AddDomain(ctx, creds.account.kid, d, fields));
    CA_TRY(SetDomainStatus(ctx, creds.account.kid, d, DomainStatus::kValid));
  }
  return creds;
}

// The test's organization and external accounts, MAC keys wrapped to `wrap` (the engine's HSM key).
ca::Result<nlohmann::json> WritePolicy(const std::string& policy_dir, const EVP_PKEY* wrap) {
  auto store = CA_TRY(PolicyWriter::Create(policy_dir, "fixture", Now()));
  AdminContext ctx{&store, "fixture", Now()};
  OrganizationFields of;
  of.name = "Example SA";
  of.country = "FR";
  of.locality = "Paris";
  of.registration_id = "12345678900011";
  auto org = CA_TRY(CreateOrganization(ctx, of));
  CA_TRY_STATUS(SetOrganizationStatus(ctx, org.id, OrgStatus::kValid));
  // every test registers its own accounts
  auto a =
      CA_TRY(MakeAccount(ctx, org.id, wrap, ProfileId::kSsl, {"a.example.com", "b.example.com"},
                         /*max_acme_accounts=*/1000));
  auto b = CA_TRY(
      MakeAccount(ctx, org.id, wrap, ProfileId::kSsl, {"c.example.com"}, /*max_acme_accounts=*/3));
  auto c = CA_TRY(
      MakeAccount(ctx, org.id, wrap, ProfileId::kSsl, {"d.example.com"}, /*max_acme_accounts=*/3));
  // kid4: suspended by the all-endpoints test. kid6: suspended from the start. kid5: the dcv
  // (POL-5) and name-count tests; every subdomain of its entries, which allow http-01 and dns-01
  // until `dcv` narrows one.
  auto d = CA_TRY(
      MakeAccount(ctx, org.id, wrap, ProfileId::kSsl, {"e.example.com"}, /*max_acme_accounts=*/3));
  DomainFields subdomains;
  subdomains.include_subdomains = true;
  auto e = CA_TRY(MakeAccount(ctx, org.id, wrap, ProfileId::kSsl,
                              {"f.example.com", "g.example.com", "h.example.com"},
                              /*max_acme_accounts=*/100, subdomains));
  auto f = CA_TRY(
      MakeAccount(ctx, org.id, wrap, ProfileId::kSsl, {"i.example.com"}, /*max_acme_accounts=*/3));
  CA_TRY_STATUS(ExternalAccountLifecycle(ctx, f.account.kid, AccountAction::kSuspend));
  // The HSM key's public half, as the ceremony's mac-wrap step writes it: for ca-ra on this store.
  const std::string wrap_pem_path = policy_dir + "-mac-wrap-public.pem";
  std::string wrap_pem = CA_TRY(ca::ossl::PublicKeyToPem(wrap));
  std::ofstream(wrap_pem_path) << wrap_pem;
  return nlohmann::json{{"mac_wrap_public_key", wrap_pem_path},
                        {"org", org.id},
                        {"kid", a.account.kid},
                        {"mac", MacKeyToText(a.mac_key)},
                        {"kid6", f.account.kid},
                        {"mac6", MacKeyToText(f.mac_key)},
                        {"kid4", d.account.kid},
                        {"mac4", MacKeyToText(d.mac_key)},
                        {"kid5", e.account.kid},
                        {"mac5", MacKeyToText(e.mac_key)},
                        {"kid2", b.account.kid},
                        {"mac2", MacKeyToText(b.mac_key)},
                        {"kid3", c.account.kid},
                        {"mac3", MacKeyToText(c.mac_key)}};
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Die("usage: policy_fixture engine DIR CA_ENGINE | suspend DIR KID | ...");
  std::string cmd = argv[1], dir = argv[2];
  std::string policy_dir = dir + "/policy";
  if (cmd == "engine" && argc == 4)
    return ca::tests::acme_protocol::ServeEngine(dir, argv[3], WritePolicy);
  if ((cmd == "suspend" || cmd == "reactivate") && argc == 4) {
    auto store = PolicyWriter::Open(policy_dir);
    if (!store) return Die(store.error().ToString());
    AdminContext ctx{&*store, "fixture", Now()};
    auto r = ExternalAccountLifecycle(
        ctx, argv[3], cmd == "suspend" ? AccountAction::kSuspend : AccountAction::kReactivate);
    if (!r) return Die(r.error().ToString());
    return 0;
  }
  if (cmd == "acme-account" && argc == 6) {
    auto store = PolicyWriter::Open(policy_dir);
    if (!store) return Die(store.error().ToString());
    AdminContext ctx{&*store, "fixture", Now()};
    AcmeAccountRef ref{argv[4], argv[3], ProfileId::kSsl};
    std::string action = argv[5];
    auto r = AcmeAccountLifecycle(
        ctx, ref, action == "revoke" ? AccountAction::kRevoke : AccountAction::kSuspend);
    if (!r) return Die(r.error().ToString());
    return 0;
  }
  if (cmd == "dcv" && argc == 6) {
    auto store = PolicyWriter::Open(policy_dir);
    if (!store) return Die(store.error().ToString());
    AdminContext ctx{&*store, "fixture", Now()};
    DomainFields f;
    f.include_subdomains = true;
    for (std::string list = argv[5]; !list.empty();) {
      auto comma = list.find(',');
      f.dcv_methods.push_back(list.substr(0, comma));
      list = comma == std::string::npos ? "" : list.substr(comma + 1);
    }
    if (auto s = RemoveDomain(ctx, argv[3], argv[4]); !s) return Die(s.error().ToString());
    if (auto s = AddDomain(ctx, argv[3], argv[4], f); !s) return Die(s.error().ToString());
    if (auto s = SetDomainStatus(ctx, argv[3], argv[4], DomainStatus::kValid); !s)
      return Die(s.error().ToString());
    return 0;
  }
  return Die("unknown command " + cmd);
}
