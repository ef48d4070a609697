// ca-ra ext-account: create, list, show, update, the lifecycle actions (revoke records a mass
// revocation) and regenerate-mac. A new MAC key is wrapped to the HSM for the store and handed over
// once (R22): encrypted to the requester's RSA key (--recipient-key), or, only with --show-mac-key
// (discouraged), in clear on stdout; never logged nor audited.
#include "appliance/ra/cli.h"
#include "appliance/ra/text.h"
#include "common/encoding.h"
#include "profiles/policy/mac_key.h"

namespace ca::appliance::ra {

using namespace ca::profiles::policy;
using namespace ca::profiles::policy::admin;
using nlohmann::json;

ExternalAccountFields Cli::ExtFields() const {
  ExternalAccountFields f;
  f.organization_id = a_.Get("--org");
  if (auto c = a_.All("--contact"); !c.empty()) f.contacts = c;
  if (auto t = a_.Get("--not-before")) f.not_before = Must(ParseTime(*t));
  if (auto t = a_.Get("--not-after")) f.not_after = Must(ParseTime(*t));
  if (auto p = a_.Get("--profiles")) {
    std::vector<ProfileId> ps;
    for (const auto& name : SplitList(*p)) {
      auto id = ParseProfile(name);
      if (!id)
        throw CommandError{"not a profile name '" + name + "' (" + ProfileNameList() +
                           " or an operator's)"};
      ps.push_back(*id);
    }
    f.allowed_profiles = ps;
  }
  if (auto c = a_.Get("--challenges")) f.allowed_challenges = SplitList(*c);
  if (auto n = a_.Get("--max-acme-accounts"))
    f.max_acme_accounts = ParseCount("--max-acme-accounts", *n);
  if (auto n = a_.Get("--orders-per-hour")) f.orders_per_hour = ParseCount("--orders-per-hour", *n);
  if (auto p = a_.Get("--report-period")) {
    f.report_period = ParseReportPeriod(*p);
    if (!f.report_period) throw UsageError{"--report-period is weekly, monthly or off, not '" + *p + "'"};
  }
  if (auto s = a_.Get("--staging")) {
    if (*s != "yes" && *s != "no") throw UsageError{"--staging is yes or no, not '" + *s + "'"};
    f.staging = *s == "yes";
  }
  if (auto d = a_.Get("--mac-rotation-days"))
    f.mac_rotation_days = ParseDays("--mac-rotation-days", *d);
  f.mac_recipient_key_pem = RecipientKeyPem();  // registered for scheduled rotations (R9)
  return f;
}

std::optional<ossl::Pkey> Cli::HandOverKey() {
  if (auto path = a_.Get("--recipient-key")) return Must(LoadRecipientPublicKey(*path));
  if (a_.Flag("--show-mac-key")) return std::nullopt;
  throw UsageError{
      "give --recipient-key FILE (the requester's RSA public key, PEM: the MAC key is handed over "
      "encrypted to it) or --show-mac-key (prints the MAC key in clear; discouraged)"};
}

void Cli::PrintCredentials(const IssuedCredentials& c, const std::string& what,
                           const std::optional<ossl::Pkey>& recipient) {
  json j = {{"external_account", ToPublicJson(c.account, Now())}, {"kid", c.account.kid}};
  std::string text = what + "\n" + ExtText(c.account, Now()) + "KeyID: " + c.account.kid + "\n";
  if (recipient) {
    // Encrypted to the requester: safe on stdout, opened only with the requester's private key.
    std::string sealed = Base64Encode(Must(EncryptMacKeyForRecipient(c.mac_key, recipient->get())));
    j["mac_key_encrypted"] = sealed;
    text += "MAC key, encrypted to the recipient key (RSA-OAEP SHA-256, base64; the requester "
            "opens it as docs/REQUESTER_GUIDE.md says):\n" + sealed + "\n";
  } else {
    j["mac_key"] = MacKeyToText(c.mac_key);
    text += "MAC key (shown once, base64url, in clear): " + MacKeyToText(c.mac_key) + "\n";
  }
  Print(j, text);
}

void Cli::PrintDashboardCredential(const IssuedDashboardCredential& c, bool is_operator) {
  // Like a MAC key: stdout only, once; the store keeps its SHA-256.
  std::string who = (is_operator ? "operator " : "external account ") + c.id;
  Print(json{{is_operator ? "operator" : "kid", c.id},
             {"dashboard_credential", std::string(c.credential.view())}},
        "issued a dashboard credential for " + who +
            " (any previous one no longer works)\nDashboard credential (shown once): " +
            std::string(c.credential.view()) + "\n");
}

int Cli::OperatorDashboardCredential() {
  NoExtraArgs(1);
  auto name = a_.Get("--operator");
  if (!name) throw UsageError{"dashboard-credential needs --operator NAME"};
  PrintDashboardCredential(Must(IssueOperatorDashboardCredential(Ctx(), *name)), true);
  return 0;
}

int Cli::ExtAccount() {
  const std::string& cmd = a_.Pos(1, "ext-account subcommand");
  int64_t now = Now();
  if (cmd == "create") {
    NoExtraArgs(2);
    auto f = ExtFields();
    if (!f.organization_id) throw UsageError{"ext-account create needs --org"};
    if (!f.contacts) throw UsageError{"ext-account create needs --contact"};
    CheckRotationFields(f, *f.contacts);
    auto recipient = HandOverKey();
    ossl::Pkey wrap = MacWrapPublicKey();
    auto c = Must(CreateExternalAccount(Ctx(), f, a_.Flag("--active"), wrap.get()));
    PrintCredentials(c, "created external account", recipient);
    return 0;
  }
  if (cmd == "rotate-due") return RotateDue();
  if (cmd == "list") {
    NoExtraArgs(2);
    auto snap = Must(Store(false).Snapshot());
    json arr = json::array();
    std::string text;
    for (const auto& a : snap.ExternalAccounts()) {
      std::string org = OrgName(snap, a.organization_id);
      json j = ToPublicJson(a, now);
      j["organization_name"] = org;
      arr.push_back(std::move(j));
      text += a.kid + "  " + a.DisplayStatus(now) + "  " + org + " (org " + a.organization_id +
              ")  contacts " + Join(a.contacts, "; ") + "  until " + FormatTime(a.not_after) +
              "  " + Profiles(a.allowed_profiles) + "\n";
    }
    Print(arr, text);
    return 0;
  }
  const std::string& kid = a_.Pos(2, "KeyID");
  NoExtraArgs(3);
  ExternalAccount a;
  if (cmd == "show") {
    auto snap = Must(Store(false).Snapshot());
    auto found = snap.FindExternalAccount(kid);
    if (!found) throw CommandError{"unknown external account " + kid};
    json j = ToPublicJson(*found, now);
    json domains = json::array();
    std::string text = ExtText(*found, now) + "domains:\n";
    for (const auto& d : snap.DomainsOf(kid)) {
      domains.push_back(ToJson(d));
      text += "  " + DomainLine(d);
    }
    j["domains"] = domains;
    if (const auto& sealed = found->mac_rotation.undelivered; !sealed.empty()) {
      // A rotated key whose mail failed (R9): sealed to the requester, safe to hand over another way.
      j["mac_key_encrypted"] = sealed;
      text += "rotated MAC key not delivered yet, encrypted to the recipient key:\n" + sealed + "\n";
    }
    Print(j, text);
    return 0;
  }
  if (cmd == "update") {
    auto f = ExtFields();
    if (f.mac_rotation_days) {
      auto current = Must(Store(true).Snapshot()).FindExternalAccount(kid);
      if (!current) throw CommandError{"unknown external account " + kid};
      CheckRotationFields(f, f.contacts.value_or(current->contacts));
    }
    a = Must(UpdateExternalAccount(Ctx(), kid, f));
  } else if (cmd == "dashboard-credential") {
    PrintDashboardCredential(Must(IssueAccountDashboardCredential(Ctx(), kid)), false);
    return 0;
  } else if (cmd == "regenerate-mac") {
    auto recipient = HandOverKey();
    ossl::Pkey wrap = MacWrapPublicKey();
    auto c = Must(RegenerateMacKey(Ctx(), kid, wrap.get(), RecipientKeyPem().value_or("")));
    PrintCredentials(c, "regenerated the MAC key; the previous key no longer works", recipient);
    return 0;
  } else {
    static const std::map<std::string, AccountAction> actions = {
        {"activate", AccountAction::kActivate},
        {"suspend", AccountAction::kSuspend},
        {"reactivate", AccountAction::kReactivate},
        {"deactivate", AccountAction::kDeactivate},
        {"revoke", AccountAction::kRevoke}};
    auto it = actions.find(cmd);
    if (it == actions.end()) throw UsageError{"unknown ext-account subcommand '" + cmd + "'"};
    Store(true);  // the writer, opened first, also serves the reads below
    auto current = Must(Store(false).Snapshot()).FindExternalAccount(kid);
    if (!current) throw CommandError{"unknown external account " + kid};
    if (AlreadyDone(current->status, it->second)) {
      Print(json{{"external_account", ToPublicJson(*current, now)}, {"changed", false}},
            "external account " + kid + " is already " + current->DisplayStatus(now) +
                "; nothing changed\n");
      return 0;
    }
    int reason = ParseReason(a_);
    size_t revoked = 0;
    if (it->second == AccountAction::kRevoke) {
      auto certs = UnexpiredCertificatesOf(kid, "");
      if (!ConfirmAccountRevocation("external account", kid, certs)) return 0;
      revoked = certs.size();
    }
    a = Must(ExternalAccountLifecycle(Ctx(), kid, it->second, reason));
    if (it->second == AccountAction::kRevoke) {
      json j = ToPublicJson(a, now);
      j["certificates_revoked"] = revoked;
      Print(j, ExtText(a, now) + RevokedCountLine(revoked));
      return 0;
    }
  }
  Print(ToPublicJson(a, now), ExtText(a, now));
  return 0;
}

}  // namespace ca::appliance::ra
