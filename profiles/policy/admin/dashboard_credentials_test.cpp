#include <gtest/gtest.h>

#include "profiles/policy/admin/admin.h"
#include "profiles/policy/dashboard_credential.h"
#include "profiles/policy/testing_util.h"

namespace ca::profiles::policy::admin {
namespace {

using testing::TempDir;

class DashboardCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = PolicyWriter::Create(dir_.Sub("p"), "op", 1);
    ASSERT_TRUE(s) << s.error().ToString();
    store_.emplace(std::move(*s));
    auto o = CreateOrganization(Ctx(), {"Org", "FR", "Paris", "1"});
    ASSERT_TRUE(o);
    ExternalAccountFields f;
    f.organization_id = o->id;
    f.contacts = std::vector<std::string>{"Jane"};
    f.allowed_profiles = std::vector<ProfileId>{ProfileId::kSsl};
    auto c = CreateExternalAccount(Ctx(), f, true, wrap_);
    ASSERT_TRUE(c) << c.error().ToString();
    kid_ = c->account.kid;
  }
  AdminContext Ctx() { return {&*store_, "op", now_}; }
  PolicySnapshot Snap() { return std::move(*store_->Snapshot()); }

  TempDir dir_;
  std::optional<PolicyWriter> store_;
  const EVP_PKEY* wrap_ = testing::SoftwareMacWrapKey();
  int64_t now_ = 1'700'000'000;
  std::string kid_;
};

TEST_F(DashboardCredentialsTest, AccountCredentialStoresOnlyItsHashAndReissueReplacesIt) {
  auto first = IssueAccountDashboardCredential(Ctx(), kid_);
  ASSERT_TRUE(first) << first.error().ToString();
  std::string text(first->credential.view());
  EXPECT_TRUE(text.starts_with(kid_ + "."));
  auto a = Snap().FindExternalAccount(kid_);
  EXPECT_TRUE(DashboardCredentialMatches(text, a->dashboard_credential_sha256));
  EXPECT_EQ(a->dashboard_credential_issued_at, now_);
  // Neither the credential nor its hash reach the public JSON or the audit trail.
  std::string dump = Snap().ToJson(now_).dump();
  std::string audit;
  for (const auto& r : Snap().Audit()) audit += ToJson(r).dump();
  for (const std::string& s : {text, a->dashboard_credential_sha256}) {
    EXPECT_EQ(dump.find(s), std::string::npos);
    EXPECT_EQ(audit.find(s), std::string::npos);
  }
  EXPECT_NE(audit.find("ext-account.dashboard-credential"), std::string::npos);

  now_ += 10;
  auto second = IssueAccountDashboardCredential(Ctx(), kid_);
  ASSERT_TRUE(second);
  a = Snap().FindExternalAccount(kid_);
  EXPECT_FALSE(DashboardCredentialMatches(text, a->dashboard_credential_sha256));
  EXPECT_TRUE(DashboardCredentialMatches(second->credential.view(), a->dashboard_credential_sha256));
}

TEST_F(DashboardCredentialsTest, UnknownAccountIsRefusedAndChangesNothing) {
  auto before = Snap().version();
  auto r = IssueAccountDashboardCredential(Ctx(), "no-such-kid");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(Snap().version(), before);
}

TEST_F(DashboardCredentialsTest, OperatorCredential) {
  EXPECT_FALSE(IssueOperatorDashboardCredential(Ctx(), "Bad Name"));
  auto r = IssueOperatorDashboardCredential(Ctx(), "alice");
  ASSERT_TRUE(r) << r.error().ToString();
  std::string text(r->credential.view());
  auto id = ParseDashboardCredential(text);
  ASSERT_TRUE(id);
  EXPECT_TRUE(id->is_operator);
  EXPECT_EQ(id->id, "alice");
  auto hash = Snap().DashboardOperatorCredentialHash("alice");
  ASSERT_TRUE(hash);
  EXPECT_TRUE(DashboardCredentialMatches(text, *hash));
  EXPECT_FALSE(Snap().DashboardOperatorCredentialHash("bob"));
}

}  // namespace
}  // namespace ca::profiles::policy::admin
