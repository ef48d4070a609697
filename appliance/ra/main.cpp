// ca-ra: the registration authority's admin CLI, the only writer of the policy store (POL-7).
// Every change is one LMDB write transaction with its audit record; bad input prints one line on
// stderr, exits 1 and changes nothing. --json prints machine-readable output on stdout.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "appliance/ra/audit_export.h"
#include "appliance/ra/gateway_accounts.h"
#include "common/log.h"
#include "common/secret.h"
#include "profiles/policy/admin.h"
#include "profiles/policy/decision.h"
#include "profiles/policy/fqdn.h"
#include "profiles/policy/mac_key.h"
#include "profiles/policy/store.h"

namespace ca::ra {
namespace {

using nlohmann::json;
using namespace ca::policy;

constexpr const char* kUsage = R"(usage: ca-ra [global options] <command> ...
global options: --store DIR (or env CA_POLICY_STORE, or 'store' in --config FILE)
                --wrap-key PATH (env CA_POLICY_WRAP_KEY, config 'wrap_key')
                --gateway-store DIR (env CA_GATEWAY_STORE, config 'gateway_store')
                --audit-log FILE (env CA_RA_AUDIT_LOG, config 'audit_log'): after each change,
                  its audit records are also appended to this hash-chained file (ca-audit verify-audit)
                --actor NAME (default $SUDO_USER / $USER)   --json   --config FILE
commands:
  init [--group GROUP]
  org create --name N --country CC --locality L --registration-id ID
  org list | show ID | update ID [--name N] [--country CC] [--locality L] [--registration-id ID]
  org validate ID | invalidate ID
  ext-account create --org ID --contact NAME [--contact NAME...] [--not-before T] [--not-after T]
                     [--profiles SSL,SSL_RGS,WILD] [--challenges http-01,dns-01,tls-alpn-01]
                     [--max-acme-accounts N] [--orders-per-hour N] [--active]
  ext-account list | show KID | update KID [options of create but --org]
  ext-account activate|suspend|reactivate|deactivate KID | revoke KID [--reason R] | regenerate-mac KID
  domain add KID FQDN [--org ID] [--include-subdomains] [--dcv http-01,dns-01]
  domain remove|validate|invalidate KID FQDN | list [KID]
  acme-account list [--account KID] | show ID
  acme-account suspend|reactivate|deactivate ID | revoke ID [--reason R]
  acme-account set-profile ID PROFILE | set-domains ID [FQDN...] | set-expiry ID TIME|none
  audit [--account ID] [--domain FQDN] [--since T] [--until T]
  dump-snapshot
times: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @unix-seconds; reasons: unspecified, keyCompromise,
affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn (default)
)";

// Options that take a value; every other "--x" is a flag.
const std::vector<std::string> kValueOptions = {"--store",
                                                "--wrap-key",
                                                "--gateway-store",
                                                "--actor",
                                                "--audit-log",
                                                "--config",
                                                "--group",
                                                "--name",
                                                "--country",
                                                "--locality",
                                                "--registration-id",
                                                "--org",
                                                "--contact",
                                                "--not-before",
                                                "--not-after",
                                                "--profiles",
                                                "--challenges",
                                                "--max-acme-accounts",
                                                "--orders-per-hour",
                                                "--reason",
                                                "--dcv",
                                                "--account",
                                                "--domain",
                                                "--since",
                                                "--until"};
const std::vector<std::string> kFlags = {"--json", "--active", "--include-subdomains", "--help"};

struct UsageError {
  std::string message;
};

struct Args {
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> options;
  std::map<std::string, bool> flags;

  std::optional<std::string> Get(const std::string& name) const {
    auto it = options.find(name);
    if (it == options.end()) return std::nullopt;
    if (options.count(name) > 1) throw UsageError{name + " given more than once"};
    return it->second;
  }
  std::vector<std::string> All(const std::string& name) const {
    std::vector<std::string> out;
    for (auto [it, end] = options.equal_range(name); it != end; ++it) out.push_back(it->second);
    return out;
  }
  bool Flag(const std::string& name) const { return flags.contains(name); }
  const std::string& Pos(size_t i, const char* what) const {
    if (i >= positional.size()) throw UsageError{std::string("missing ") + what};
    return positional[i];
  }
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s.starts_with("--")) {
      std::string value;
      bool has_value = false;
      if (auto eq = s.find('='); eq != std::string::npos) {
        value = s.substr(eq + 1);
        s = s.substr(0, eq);
        has_value = true;
      }
      if (std::ranges::find(kValueOptions, s) != kValueOptions.end()) {
        if (!has_value) {
          if (i + 1 >= argc) throw UsageError{s + " needs a value"};
          value = argv[++i];
        }
        a.options.emplace(s, value);
      } else if (std::ranges::find(kFlags, s) != kFlags.end() && !has_value) {
        a.flags[s] = true;
      } else {
        throw UsageError{"unknown option " + s};
      }
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string item =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// A failed Result ends the command with its one-line message.
struct CommandError {
  std::string message;
};

template <class T>
T Must(Result<T> r) {
  if (!r) throw CommandError{r.error().message};
  return std::move(*r);
}
inline void Must(Status s) {
  if (!s) throw CommandError{s.error().message};
}

uint32_t ParseCount(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  unsigned long n = std::strtoul(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || n == 0 || n > 1000000 || v[0] == '-') {
    throw CommandError{opt + " must be a positive integer, got '" + v + "'"};
  }
  return static_cast<uint32_t>(n);
}

int ParseReason(const Args& a) {
  auto r = a.Get("--reason");
  if (!r) return 9;
  auto code = ParseRevocationReason(*r);
  if (!code) throw CommandError{"unknown revocation reason '" + *r + "'"};
  return *code;
}

class Cli {
 public:
  explicit Cli(Args args) : a_(std::move(args)) { LoadConfig(); }

  int Run() {
    int rc = 0;
    try {
      rc = RunCommand();
    } catch (...) {
      try {
        ExportAudit();  // a change may have been committed before the failure
      } catch (...) {
      }
      throw;
    }
    ExportAudit();
    return rc;
  }

 private:
  // After a write (committed or not), appends the policy store's audit records that the audit
  // file does not hold yet (appliance/ra/audit_export.h).
  void ExportAudit() {
    if (!wrote_ || audit_log_.empty()) return;
    if (!store_) store_ = Must(PolicyStore::OpenReadOnly(store_dir_));
    auto exported = ExportPolicyAudit(*store_, audit_log_);
    if (!exported) {
      throw CommandError{"the policy store is up to date but its audit file " + audit_log_ +
                         " is not (the next change retries): " + exported.error().message};
    }
  }

  int RunCommand() {
    const std::string& group = a_.Pos(0, "command");
    if (group == "init") return Init();
    if (group == "org") return Org();
    if (group == "ext-account") return ExtAccount();
    if (group == "domain") return Domain();
    if (group == "acme-account") return AcmeAccount();
    if (group == "audit") return AuditCmd();
    if (group == "dump-snapshot") return Dump();
    throw UsageError{"unknown command '" + group + "'"};
  }

  void LoadConfig() {
    auto setting = [&](const char* opt, const char* env) -> std::string {
      if (auto v = a_.Get(opt)) return *v;
      if (const char* e = std::getenv(env); e != nullptr && *e != '\0') return e;
      return "";
    };
    store_dir_ = setting("--store", "CA_POLICY_STORE");
    wrap_key_path_ = setting("--wrap-key", "CA_POLICY_WRAP_KEY");
    gateway_dir_ = setting("--gateway-store", "CA_GATEWAY_STORE");
    audit_log_ = setting("--audit-log", "CA_RA_AUDIT_LOG");
    if (auto cfg = a_.Get("--config")) {
      std::ifstream in(*cfg);
      if (!in) throw CommandError{"cannot read config file " + *cfg};
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto eq = line.find('=');
        if (eq == std::string::npos)
          throw CommandError{"config " + *cfg + ": expected key = value"};
        auto trim = [](std::string s) {
          s.erase(0, s.find_first_not_of(" \t"));
          s.erase(s.find_last_not_of(" \t\r") + 1);
          return s;
        };
        std::string k = trim(line.substr(0, eq)), v = trim(line.substr(eq + 1));
        if (k == "store" && store_dir_.empty())
          store_dir_ = v;
        else if (k == "wrap_key" && wrap_key_path_.empty())
          wrap_key_path_ = v;
        else if (k == "gateway_store" && gateway_dir_.empty())
          gateway_dir_ = v;
        else if (k == "audit_log" && audit_log_.empty())
          audit_log_ = v;
        else if (k != "store" && k != "wrap_key" && k != "gateway_store" && k != "audit_log") {
          throw CommandError{"config " + *cfg + ": unknown key '" + k + "'"};
        }
      }
    }
    if (auto v = a_.Get("--actor")) {
      actor_ = *v;
    } else if (const char* s = std::getenv("SUDO_USER"); s != nullptr && *s != '\0') {
      actor_ = s;
    } else if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') {
      actor_ = u;
    } else {
      actor_ = "uid:" + std::to_string(::getuid());
    }
    json_ = a_.Flag("--json");
  }

  void NoExtraArgs(size_t n) const {
    if (a_.positional.size() > n)
      throw UsageError{"unexpected argument '" + a_.positional[n] + "'"};
  }

  const PolicyStore& Store(bool writer) {
    if (!store_) {
      if (store_dir_.empty())
        throw CommandError{"no policy store given (--store, CA_POLICY_STORE or config)"};
      store_ = Must(writer ? PolicyStore::OpenWriter(store_dir_)
                           : PolicyStore::OpenReadOnly(store_dir_));
      wrote_ = wrote_ || writer;
    }
    return *store_;
  }
  AdminContext Ctx() { return AdminContext{&Store(true), actor_, Now()}; }
  static int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }
  Secret WrapKey() {
    if (wrap_key_path_.empty())
      throw CommandError{"no wrapping key given (--wrap-key, CA_POLICY_WRAP_KEY or config)"};
    return Must(LoadWrapKey(wrap_key_path_));
  }
  GatewayAccounts& Gateway() {
    if (!gateway_) {
      if (gateway_dir_.empty()) {
        throw CommandError{"ACME accounts live in the gateway store: give --gateway-store DIR"};
      }
      gateway_ = Must(GatewayAccounts::Open(gateway_dir_));
    }
    return *gateway_;
  }

  void Print(const json& j, const std::string& human) {
    if (json_) {
      std::cout << j.dump() << "\n";
    } else {
      std::cout << human;
    }
  }

  static std::string OrgLine(const Organization& o) {
    return o.id + "  " + std::string(OrgStatusName(o.status)) + "  " + o.name + " (" + o.country +
           ", " + o.locality + ", " + o.registration_id + ")\n";
  }
  static std::string Join(const std::vector<std::string>& v, const char* sep = ",") {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
  }
  static std::string Profiles(const std::vector<ProfileId>& ps) {
    std::vector<std::string> names;
    for (auto p : ps) names.emplace_back(ProfileName(p));
    return Join(names);
  }
  static std::string ExtText(const ExternalAccount& a, int64_t now) {
    return "kid: " + a.kid + "\norganization: " + a.organization_id +
           "\nstatus: " + a.DisplayStatus(now) + "\ncontacts: " + Join(a.contacts, "; ") +
           "\nvalidity: " + FormatTime(a.not_before) + " .. " + FormatTime(a.not_after) +
           "\nprofiles: " + Profiles(a.allowed_profiles) +
           "\nchallenges: " + Join(a.allowed_challenges) +
           "\nmac regenerations: " + std::to_string(a.mac_regenerations) +
           "\nlimits: max ACME accounts " + std::to_string(a.limits.max_acme_accounts) +
           ", orders per hour " + std::to_string(a.limits.orders_per_hour) + "\n";
  }
  static std::string DomainLine(const DomainEntry& d) {
    return d.fqdn + "  " + std::string(DomainStatusName(d.status)) + "  kid " +
           d.external_account_kid + "  org " + d.organization_id + "  dcv " + Join(d.dcv_methods) +
           (d.include_subdomains ? "  +subdomains" : "") + "\n";
  }

  int Init() {
    NoExtraArgs(1);
    if (store_dir_.empty() || wrap_key_path_.empty()) {
      throw CommandError{"init needs --store DIR and --wrap-key PATH"};
    }
    if (::access(wrap_key_path_.c_str(), F_OK) == 0) {
      throw CommandError{"refusing to overwrite existing wrapping key " + wrap_key_path_};
    }
    { auto store = Must(PolicyStore::Create(store_dir_, actor_, Now())); }
    wrote_ = true;
    Must(CreateWrapKeyFile(wrap_key_path_, a_.Get("--group").value_or("")));
    Print({{"store", store_dir_}, {"wrap_key", wrap_key_path_}, {"version", 1}},
          "created policy store " + store_dir_ + " and wrapping key " + wrap_key_path_ + "\n");
    return 0;
  }

  OrganizationFields OrgFields() const {
    return {a_.Get("--name"), a_.Get("--country"), a_.Get("--locality"),
            a_.Get("--registration-id")};
  }

  int Org() {
    const std::string& cmd = a_.Pos(1, "org subcommand");
    if (cmd == "create") {
      NoExtraArgs(2);
      auto f = OrgFields();
      for (auto [opt, v] : {std::pair{"--name", &f.name},
                            {"--country", &f.country},
                            {"--locality", &f.locality},
                            {"--registration-id", &f.registration_id}}) {
        if (!*v) throw UsageError{std::string("org create needs ") + opt};
      }
      auto o = Must(CreateOrganization(Ctx(), f));
      Print(ToJson(o), "created organization " + OrgLine(o));
      return 0;
    }
    if (cmd == "list") {
      NoExtraArgs(2);
      auto snap = Must(Store(false).Snapshot());
      json arr = json::array();
      std::string text;
      for (const auto& o : snap.Organizations()) {
        arr.push_back(ToJson(o));
        text += OrgLine(o);
      }
      Print(arr, text);
      return 0;
    }
    const std::string& id = a_.Pos(2, "organization id");
    NoExtraArgs(3);
    Organization o;
    if (cmd == "show") {
      auto snap = Must(Store(false).Snapshot());
      auto found = snap.FindOrganization(id);
      if (!found) throw CommandError{"unknown organization " + id};
      o = *found;
    } else if (cmd == "update") {
      o = Must(UpdateOrganization(Ctx(), id, OrgFields()));
    } else if (cmd == "validate") {
      o = Must(SetOrganizationStatus(Ctx(), id, OrgStatus::kValid));
    } else if (cmd == "invalidate") {
      o = Must(SetOrganizationStatus(Ctx(), id, OrgStatus::kInvalid));
    } else {
      throw UsageError{"unknown org subcommand '" + cmd + "'"};
    }
    Print(ToJson(o), OrgLine(o));
    return 0;
  }

  ExternalAccountFields ExtFields() const {
    ExternalAccountFields f;
    f.organization_id = a_.Get("--org");
    if (auto c = a_.All("--contact"); !c.empty()) f.contacts = c;
    if (auto t = a_.Get("--not-before")) f.not_before = Must(ParseTime(*t));
    if (auto t = a_.Get("--not-after")) f.not_after = Must(ParseTime(*t));
    if (auto p = a_.Get("--profiles")) {
      std::vector<ProfileId> ps;
      for (const auto& name : SplitList(*p)) {
        auto id = ParseProfile(name);
        if (!id) throw CommandError{"unknown profile '" + name + "' (SSL, SSL_RGS, WILD)"};
        ps.push_back(*id);
      }
      f.allowed_profiles = ps;
    }
    if (auto c = a_.Get("--challenges")) f.allowed_challenges = SplitList(*c);
    if (auto n = a_.Get("--max-acme-accounts"))
      f.max_acme_accounts = ParseCount("--max-acme-accounts", *n);
    if (auto n = a_.Get("--orders-per-hour"))
      f.orders_per_hour = ParseCount("--orders-per-hour", *n);
    return f;
  }

  void PrintCredentials(const IssuedCredentials& c, const std::string& what) {
    // The MAC key goes to stdout only, once; it is never logged nor audited.
    json j = {{"external_account", ToPublicJson(c.account, Now())},
              {"kid", c.account.kid},
              {"mac_key", MacKeyToText(c.mac_key)}};
    Print(j, what + "\n" + ExtText(c.account, Now()) + "KeyID: " + c.account.kid +
                 "\nMAC key (shown once, base64url): " + MacKeyToText(c.mac_key) + "\n");
  }

  int ExtAccount() {
    const std::string& cmd = a_.Pos(1, "ext-account subcommand");
    int64_t now = Now();
    if (cmd == "create") {
      NoExtraArgs(2);
      auto f = ExtFields();
      if (!f.organization_id) throw UsageError{"ext-account create needs --org"};
      if (!f.contacts) throw UsageError{"ext-account create needs --contact"};
      Secret wrap = WrapKey();
      auto c = Must(CreateExternalAccount(Ctx(), f, a_.Flag("--active"), wrap));
      PrintCredentials(c, "created external account");
      return 0;
    }
    if (cmd == "list") {
      NoExtraArgs(2);
      auto snap = Must(Store(false).Snapshot());
      json arr = json::array();
      std::string text;
      for (const auto& a : snap.ExternalAccounts()) {
        arr.push_back(ToPublicJson(a, now));
        text += a.kid + "  " + a.DisplayStatus(now) + "  org " + a.organization_id + "  until " +
                FormatTime(a.not_after) + "  " + Profiles(a.allowed_profiles) + "\n";
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
      Print(j, text);
      return 0;
    }
    if (cmd == "update") {
      a = Must(UpdateExternalAccount(Ctx(), kid, ExtFields()));
    } else if (cmd == "regenerate-mac") {
      Secret wrap = WrapKey();
      auto c = Must(RegenerateMacKey(Ctx(), kid, wrap));
      PrintCredentials(c, "regenerated the MAC key; the previous key no longer works");
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
      a = Must(ExternalAccountLifecycle(Ctx(), kid, it->second, ParseReason(a_)));
    }
    Print(ToPublicJson(a, now), ExtText(a, now));
    return 0;
  }

  int Domain() {
    const std::string& cmd = a_.Pos(1, "domain subcommand");
    if (cmd == "list") {
      NoExtraArgs(3);
      auto snap = Must(Store(false).Snapshot());
      std::vector<DomainEntry> ds;
      if (a_.positional.size() == 3) {
        if (!snap.FindExternalAccount(a_.positional[2])) {
          throw CommandError{"unknown external account " + a_.positional[2]};
        }
        ds = snap.DomainsOf(a_.positional[2]);
      } else {
        ds = snap.AllDomains();
      }
      json arr = json::array();
      std::string text;
      for (const auto& d : ds) {
        arr.push_back(ToJson(d));
        text += DomainLine(d);
      }
      Print(arr, text);
      return 0;
    }
    const std::string& kid = a_.Pos(2, "KeyID");
    const std::string& fqdn = a_.Pos(3, "domain name");
    NoExtraArgs(4);
    if (cmd == "add") {
      DomainFields f;
      f.organization_id = a_.Get("--org");
      f.include_subdomains = a_.Flag("--include-subdomains");
      if (auto d = a_.Get("--dcv")) f.dcv_methods = SplitList(*d);
      auto d = Must(AddDomain(Ctx(), kid, fqdn, f));
      Print(ToJson(d), "added " + DomainLine(d));
      return 0;
    }
    if (cmd == "remove") {
      Must(RemoveDomain(Ctx(), kid, fqdn));
      std::string name = Must(NormalizeFqdn(fqdn, true));
      Print({{"removed", name}, {"external_account_kid", kid}}, "removed " + name + "\n");
      return 0;
    }
    DomainStatus to;
    if (cmd == "validate") {
      to = DomainStatus::kValid;
    } else if (cmd == "invalidate") {
      to = DomainStatus::kInvalid;
    } else {
      throw UsageError{"unknown domain subcommand '" + cmd + "'"};
    }
    auto d = Must(SetDomainStatus(Ctx(), kid, fqdn, to));
    Print(ToJson(d), DomainLine(d));
    return 0;
  }

  json AcmeJson(const GatewayAccount& g, const PolicyReader& r) {
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
  static std::string AcmeLine(const json& j) {
    return j["id"].get<std::string>() + "  " + j["status"].get<std::string>() + "  " +
           j["profile"].get<std::string>() + "  kid " +
           j["external_account_kid"].get<std::string>() + "  gateway " +
           j["gateway_status"].get<std::string>() +
           (j["domains"].empty() ? "" : "  domains " + j["domains"].dump()) + "\n";
  }

  int AcmeAccount() {
    const std::string& cmd = a_.Pos(1, "acme-account subcommand");
    if (cmd == "list") {
      NoExtraArgs(2);
      auto accounts = Must(Gateway().List());
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
    GatewayAccount g = Must(Gateway().Find(id));
    AcmeAccountRef ref{g.id, g.external_account_kid, g.profile};
    if (cmd == "show") {
      NoExtraArgs(3);
    } else if (cmd == "set-profile") {
      NoExtraArgs(4);
      const std::string& name = a_.Pos(3, "profile");
      auto p = ParseProfile(name);
      if (!p) throw CommandError{"unknown profile '" + name + "' (SSL, SSL_RGS, WILD)"};
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
      Must(AcmeAccountLifecycle(Ctx(), ref, it->second, ParseReason(a_)));
    }
    auto snap = Must(Store(false).Snapshot());
    json j = AcmeJson(g, snap);
    Print(j, AcmeLine(j));
    return 0;
  }

  int AuditCmd() {
    NoExtraArgs(1);
    AuditFilter f;
    f.account = a_.Get("--account").value_or("");
    if (auto d = a_.Get("--domain")) f.domain = Must(NormalizeFqdn(*d, true));
    if (auto t = a_.Get("--since")) f.since = Must(ParseTime(*t));
    if (auto t = a_.Get("--until")) f.until = Must(ParseTime(*t));
    auto snap = Must(Store(false).Snapshot());
    json arr = json::array();
    std::string text;
    for (const auto& r : snap.Audit(f)) {
      arr.push_back(ToJson(r));
      text += FormatTime(r.time) + "  v" + std::to_string(r.policy_version) + "  " + r.actor +
              "  " + r.action + "  " + r.object_type + " " + r.object_id + "\n";
    }
    Print(arr, text);
    return 0;
  }

  int Dump() {
    NoExtraArgs(1);
    auto snap = Must(Store(false).Snapshot());
    json j = snap.ToJson(Now());
    std::cout << (json_ ? j.dump() : j.dump(2)) << "\n";
    return 0;
  }

  Args a_;
  bool json_ = false;
  bool wrote_ = false;  // the store was opened for writing (or created): export the audit
  std::string store_dir_, wrap_key_path_, gateway_dir_, actor_, audit_log_;
  std::optional<PolicyStore> store_;
  std::optional<GatewayAccounts> gateway_;
};

}  // namespace
}  // namespace ca::ra

int main(int argc, char** argv) {
  ca::HardenProcessForSecrets();
  ca::log::Init("ca-ra", ca::log::Level::kWarn);
  try {
    ca::ra::Args args = ca::ra::Parse(argc, argv);
    if (args.Flag("--help") || args.positional.empty()) {
      std::cout << ca::ra::kUsage;
      return args.positional.empty() && !args.Flag("--help") ? 2 : 0;
    }
    ca::ra::Cli cli(std::move(args));
    return cli.Run();
  } catch (const ca::ra::UsageError& e) {
    std::cerr << "ca-ra: " << e.message << " (see ca-ra --help)\n";
    return 2;
  } catch (const ca::ra::CommandError& e) {
    std::cerr << "ca-ra: " << e.message << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "ca-ra: " << e.what() << "\n";
    return 1;
  }
}
