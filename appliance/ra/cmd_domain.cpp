// ca-ra domain: add, remove, validate, invalidate, list. add and validate check CAA first (R7).
#include <algorithm>
#include <iostream>
#include <set>

#include "appliance/ra/cli.h"
#include "appliance/ra/text.h"
#include "profiles/policy/fqdn.h"

namespace ca::appliance::ra {

using namespace ca::profiles::policy;
using namespace ca::profiles::policy::admin;
using nlohmann::json;

namespace {

// "a.b.example.com" -> {"b.example.com", "example.com"}: the parents of two labels or more.
std::vector<std::string> Parents(std::string_view name) {
  std::vector<std::string> out;
  if (name.starts_with("*.")) name.remove_prefix(2);
  for (size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1)) {
    std::string_view parent = name.substr(dot + 1);
    if (parent.find('.') == std::string_view::npos) break;  // a TLD alone says nothing
    out.emplace_back(parent);
  }
  return out;
}

// A typo in a suffix ("corp.intenral") is accepted by every syntax check: warn (on stderr, the
// domain is still added) when the name is under none of the domains its organization already has.
void WarnUnknownSuffix(const PolicyReader& r, const std::string& kid,
                       const std::optional<std::string>& org_option, const std::string& typed) {
  auto fqdn = NormalizeFqdn(typed, true);
  auto account = r.FindExternalAccount(kid);
  if (!fqdn || !account) return;  // AddDomain refuses it with its own message
  std::string org = org_option.value_or(account->organization_id);
  std::set<std::string> known;
  for (const auto& d : r.AllDomains()) {
    if (d.organization_id != org) continue;
    std::string base = d.wildcard() ? d.fqdn.substr(2) : d.fqdn;
    known.insert(base);
    for (auto& p : Parents(base)) known.insert(std::move(p));
  }
  if (known.empty()) return;  // the organization's first domain: nothing to compare with
  std::string base = fqdn->starts_with("*.") ? fqdn->substr(2) : *fqdn;
  auto mine = Parents(base);
  mine.push_back(base);
  for (const auto& m : mine) {
    if (known.contains(m)) return;
  }
  std::cerr << "ca-ra: warning: " << *fqdn << " is under none of the domains organization " << org
            << " already has (" << Join({known.begin(), known.end()}, ", ")
            << "): check the spelling\n";
}

void WarnCaaNotChecked(const std::string& fqdn) {
  std::cerr << "ca-ra: warning: CAA was not checked for " << fqdn
            << ": no caa_identities configured (ra.conf, CA_CAA_IDENTITIES)\n";
}

}  // namespace

// R7: before the entry is added or validated (caa_check.h). Returns false when CAA is not
// configured (the caller warns once the command has succeeded, so a refused command keeps its
// one error line); a refusal ends the command before anything is written.
bool Cli::CheckCaaBeforeWriting(const std::string& typed) {
  std::string fqdn = Must(NormalizeFqdn(typed, true));
  if (!caa_.configured()) return false;
  Must(CheckDomainCaa(caa_, fqdn));
  return true;
}

int Cli::Domain() {
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
      json j = ToJson(d);
      j["organization_name"] = OrgName(snap, d.organization_id);
      text += j["organization_name"].get<std::string>() + ": " + DomainLine(d);
      arr.push_back(std::move(j));
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
    auto ctx = Ctx();
    WarnUnknownSuffix(Must(Store(false).Snapshot()), kid, f.organization_id, fqdn);
    bool caa_checked = CheckCaaBeforeWriting(fqdn);
    auto d = Must(AddDomain(ctx, kid, fqdn, f));
    Print(ToJson(d), "added " + DomainLine(d));
    if (!caa_checked) WarnCaaNotChecked(d.fqdn);
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
  bool caa_checked = to != DomainStatus::kValid || CheckCaaBeforeWriting(fqdn);
  auto d = Must(SetDomainStatus(Ctx(), kid, fqdn, to));
  Print(ToJson(d), DomainLine(d));
  if (!caa_checked) WarnCaaNotChecked(d.fqdn);
  return 0;
}

}  // namespace ca::appliance::ra
