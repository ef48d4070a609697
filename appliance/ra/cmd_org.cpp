// ca-ra org: create, list, show, update, validate, invalidate.
#include "appliance/ra/cli.h"
#include "appliance/ra/text.h"

namespace ca::appliance::ra {

using namespace ca::profiles::policy;
using namespace ca::profiles::policy::admin;
using nlohmann::json;

OrganizationFields Cli::OrgFields() const {
  return {a_.Get("--name"), a_.Get("--country"), a_.Get("--locality"), a_.Get("--registration-id")};
}

int Cli::Org() {
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

}  // namespace ca::appliance::ra
