#include "profiles/policy/dashboard_credential.h"

#include <gtest/gtest.h>

#include <vector>

namespace ca::profiles::policy {
namespace {

TEST(DashboardCredential, ParsesAccountAndOperatorForms) {
  Secret c = NewDashboardCredential("3b1c0f5e-0000-4000-8000-000000000001");
  auto id = ParseDashboardCredential(c.view());
  ASSERT_TRUE(id);
  EXPECT_FALSE(id->is_operator);
  EXPECT_EQ(id->id, "3b1c0f5e-0000-4000-8000-000000000001");
  Secret op = NewDashboardCredential("operator:ops-1");
  id = ParseDashboardCredential(op.view());
  ASSERT_TRUE(id);
  EXPECT_TRUE(id->is_operator);
  EXPECT_EQ(id->id, "ops-1");
  EXPECT_NE(std::string(NewDashboardCredential("k").view()), std::string(NewDashboardCredential("k").view()));
}

TEST(DashboardCredential, RefusesMalformed) {
  std::string secret(43, 'A');
  for (const std::string& bad : std::vector<std::string>{"", "kid", "." + secret, "kid." + secret + "A",
                          "kid.short", "operator:Bad." + secret, "operator:." + secret,
                          "a b." + secret, "kid." + std::string(42, 'A') + "="}) {
    EXPECT_FALSE(ParseDashboardCredential(bad)) << bad;
  }
  EXPECT_TRUE(ParseDashboardCredential("kid." + secret));
}

TEST(DashboardCredential, HashComparison) {
  std::string hash = DashboardCredentialHash("kid.secret");
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_TRUE(DashboardCredentialMatches("kid.secret", hash));
  EXPECT_FALSE(DashboardCredentialMatches("kid.secreT", hash));
  EXPECT_FALSE(DashboardCredentialMatches("kid.secret", ""));
  EXPECT_FALSE(DashboardCredentialMatches("kid.secret", hash.substr(1)));
}

}  // namespace
}  // namespace ca::profiles::policy
