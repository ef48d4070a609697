// ca-ra acme-account: the RA's policy for the ACME accounts found in the gateway store (list, show,
// set-profile, set-domains, set-expiry, and the lifecycle actions; revoke records a mass
// revocation).
#include "appliance/ra/cli.h"
#include "appliance/ra/text.h"

namespace ca::appliance::ra {

using namespace ca::profiles::policy;
using namespace ca::profiles::policy::admin;
using nlohmann::json;

json Cli::AcmeJson(const GatewayAccount& g, const PolicyReader& r) {
  AcmeAccountRef ref{g.id, g.external_account_kid, g.profile};
  AcmeAccountPolicy p = AcmeAccountPolicyOrDefault(r, ref);
  auto ext = r.FindExternalAccount(g.external_account_kid);
  return {{"id", g.id},
          {"external_account_kid", g.external_account_kid},
          {"gateway_status", g.status},
          {"status", AcmeAccountStatusName(p.status)},
          {"external_account_status", ext ? json(ext->DisplayStatus(Now())) : json(nullptr)},
          {"profile", ProfileName(p.profile.value_or(g.profile))},
          {"domains", p.domains},
          {"not_after", p.not_after},
          {"contact", g.raw.value("contact", json(nullptr))},
          {"created_at", g.raw.value("created_at", json(nullptr))}};
}

int Cli::AcmeAccount() {
  const std::string& cmd = a_.Pos(1, "acme-account subcommand");
  if (cmd == "list") {
    NoExtraArgs(2);
    auto accounts = Must(Gateway().Accounts());
    auto snap = Must(Store(false).Snapshot());
    auto filter = a_.Get("--account");
    json arr = json::array();
    std::string text;
    for (const auto& g : accounts) {
      if (filter && g.external_account_kid != *filter) continue;
      json j = AcmeJson(g, snap);
      text += AcmeLine(j);
      arr.push_back(std::move(j));
    }
    Print(arr, text);
    return 0;
  }
  const std::string& id = a_.Pos(2, "ACME account id");
  GatewayAccount g = Must(Gateway().FindAccount(id));
  AcmeAccountRef ref{g.id, g.external_account_kid, g.profile};
  if (cmd == "show") {
    NoExtraArgs(3);
  } else if (cmd == "set-profile") {
    NoExtraArgs(4);
    const std::string& name = a_.Pos(3, "profile");
    auto p = ParseProfile(name);
    if (!p)
      throw CommandError{"not a profile name '" + name + "' (" + ProfileNameList() +
                         " or an operator's)"};
    Must(SetAcmeAccountProfile(Ctx(), ref, *p));
  } else if (cmd == "set-domains") {
    std::vector<std::string> names(a_.positional.begin() + 3, a_.positional.end());
    Must(SetAcmeAccountDomains(Ctx(), ref, names));
  } else if (cmd == "set-expiry") {
    NoExtraArgs(4);
    const std::string& t = a_.Pos(3, "time or 'none'");
    Must(SetAcmeAccountExpiry(Ctx(), ref, t == "none" ? 0 : Must(ParseTime(t))));
  } else {
    NoExtraArgs(3);
    static const std::map<std::string, AccountAction> actions = {
        {"suspend", AccountAction::kSuspend},
        {"reactivate", AccountAction::kReactivate},
        {"deactivate", AccountAction::kDeactivate},
        {"revoke", AccountAction::kRevoke}};
    auto it = actions.find(cmd);
    if (it == actions.end()) throw UsageError{"unknown acme-account subcommand '" + cmd + "'"};
    Store(true);  // the writer, opened first, also serves the reads below
    auto current = AcmeAccountPolicyOrDefault(Must(Store(false).Snapshot()), ref);
    if (AlreadyDone(current.status, it->second)) {
      json j = AcmeJson(g, Must(Store(false).Snapshot()));
      j["changed"] = false;
      Print(j, "ACME account " + id + " is already " +
                   std::string(AcmeAccountStatusName(current.status)) + "; nothing changed\n");
      return 0;
    }
    int reason = ParseReason(a_);
    size_t revoked = 0;
    if (it->second == AccountAction::kRevoke) {
      auto certs = UnexpiredCertificatesOf(g.external_account_kid, id);
      if (!ConfirmAccountRevocation("ACME account", id, certs)) return 0;
      revoked = certs.size();
    }
    Must(AcmeAccountLifecycle(Ctx(), ref, it->second, reason));
    if (it->second == AccountAction::kRevoke) {
      json j = AcmeJson(g, Must(Store(false).Snapshot()));
      j["certificates_revoked"] = revoked;
      Print(j, AcmeLine(j) + RevokedCountLine(revoked));
      return 0;
    }
  }
  auto snap = Must(Store(false).Snapshot());
  json j = AcmeJson(g, snap);
  Print(j, AcmeLine(j));
  return 0;
}

}  // namespace ca::appliance::ra
