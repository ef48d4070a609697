// Test support: a policy store with two active external accounts (A and B), each with a dashboard
// credential, and an operator credential, built with the RA's write side as ca-ra would.
#pragma once

#include <fstream>
#include <optional>
#include <string>

#include "profiles/policy/admin/admin.h"
#include "profiles/policy/testing_util.h"

namespace ca::dashboard::testing {

class PolicyFixture {
 public:
  PolicyFixture() {
    using namespace profiles::policy;
    using namespace profiles::policy::admin;
    writer_.emplace(std::move(*PolicyWriter::Create(dir_.Sub("policy"), "test", 1)));
    auto org = CreateOrganization(Ctx(), {"Org A", "FR", "Paris", "1"});
    kid_a = Account(org->id);
    kid_b = Account(org->id);
    (void)AddDomain(Ctx(), kid_a, "a.demo.test", {});
    credential_a = std::string(IssueAccountDashboardCredential(Ctx(), kid_a)->credential.view());
    credential_b = std::string(IssueAccountDashboardCredential(Ctx(), kid_b)->credential.view());
    credential_op = std::string(IssueOperatorDashboardCredential(Ctx(), "ops")->credential.view());
  }
  profiles::policy::admin::AdminContext Ctx() { return {&*writer_, "test", 1'700'000'000}; }
  // The store as the dashboard reads it: the same environment (a second open in one process is
  // refused), seen through its read-only base.
  const profiles::policy::PolicyStore& store() const { return *writer_; }
  std::string path() const { return dir_.Sub("policy"); }
  // An empty audit file (the trail before anything happened), for the ledger.
  std::string EmptyAuditFile() const {
    std::string file = dir_.Sub("ra.jsonl");
    std::ofstream(file).flush();
    return file;
  }

  std::string kid_a, kid_b, credential_a, credential_b, credential_op;

 private:
  std::string Account(const std::string& org) {
    profiles::policy::admin::ExternalAccountFields f;
    f.organization_id = org;
    f.contacts = std::vector<std::string>{"Jane"};
    f.allowed_profiles = std::vector<profiles::policy::ProfileId>{profiles::policy::ProfileId::kSsl};
    f.not_after = 1'700'000'000 + 86400LL * 365 * 2;
    // The MAC key wrapped to the software stand-in of the HSM's mac-wrap key (never read here).
    return CreateExternalAccount(Ctx(), f, true, profiles::policy::testing::SoftwareMacWrapKey())->account.kid;
  }
  profiles::policy::testing::TempDir dir_;  // removed after the writer closes (declared first)
  std::optional<profiles::policy::admin::PolicyWriter> writer_;
};

}  // namespace ca::dashboard::testing
