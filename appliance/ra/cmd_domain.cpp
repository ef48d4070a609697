// ca-ra domain: add, remove, validate, invalidate, list.
#include "appliance/ra/cli.h"
#include "appliance/ra/text.h"
#include "profiles/policy/fqdn.h"

namespace ca::appliance::ra {

using namespace ca::profiles::policy;
using namespace ca::profiles::policy::admin;
using nlohmann::json;

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

}  // namespace ca::appliance::ra
