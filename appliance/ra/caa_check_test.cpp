#include "appliance/ra/caa_check.h"

#include <gtest/gtest.h>

#include "gateway/validation/testing/fixture.h"

namespace ca::appliance::ra {
namespace {

namespace vt = ca::gateway::validation::testing;

class RaCaaTest : public vt::ChallTestSrvSuite {
 protected:
  static CaaSettings Settings() {
    return CaaSettings::From(" acme-ca.example ,, ", srv_->dns_address());
  }
  static void Caa(const std::string& host, nlohmann::json policies) {
    Post("/add-caa", {{"host", host}, {"policies", policies}});
  }
};

TEST(RaCaaSettingsTest, IdentitiesAreACommaListAndTheResolverHasADefault) {
  CaaSettings s = CaaSettings::From("a.example, b.example,,", "");
  EXPECT_EQ(s.identities, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_EQ(s.resolver, "127.0.0.1:53");
  EXPECT_TRUE(s.configured());
  EXPECT_FALSE(CaaSettings::From(" , ", "10.0.0.1:5353").configured());
}

TEST_F(RaCaaTest, ANameWithoutCaaOrNamingThisCaIsPermitted) {
  auto none = CheckDomainCaa(Settings(), "nocaa.racaa.test");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(*none, "no CAA records for nocaa.racaa.test or its parents");
  Caa("ours.racaa.test.",
      {{{"tag", "issue"}, {"value", "acme-ca.example; accounturi=https://x/1"}}});
  auto ours = CheckDomainCaa(Settings(), "www.ours.racaa.test");
  ASSERT_TRUE(ours) << ours.error().message;
  EXPECT_EQ(*ours, "issue property at ours.racaa.test names this CA");
}

TEST_F(RaCaaTest, AnotherCaRefusesWithOneLineNamingTheRecordAndOurIdentities) {
  Caa("theirs.racaa.test.", {{{"tag", "issue"}, {"value", "other-ca.example"}}});
  auto r = CheckDomainCaa(Settings(), "theirs.racaa.test");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(r.error().message,
            "CAA record for theirs.racaa.test prevents issuance: issue names \"other-ca.example\", "
            "not this CA (this CA's CAA identities: acme-ca.example); nothing was changed");
}

TEST_F(RaCaaTest, AWildcardEntryIsJudgedByIssuewild) {
  Caa("wild.racaa.test.", {{{"tag", "issue"}, {"value", "acme-ca.example"}},
                           {{"tag", "issuewild"}, {"value", "other-ca.example"}}});
  EXPECT_TRUE(CheckDomainCaa(Settings(), "wild.racaa.test"));
  auto r = CheckDomainCaa(Settings(), "*.wild.racaa.test");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("issuewild names \"other-ca.example\""), std::string::npos)
      << r.error().message;
}

TEST_F(RaCaaTest, ServfailAndASilentResolverRefuse) {
  Post("/set-servfail", {{"host", "broken.racaa.test."}});
  auto failed = CheckDomainCaa(Settings(), "broken.racaa.test");
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message,
            "CAA lookup for broken.racaa.test failed: SERVFAIL (RFC 8659: a failed CAA lookup "
            "does not permit issuance); nothing was changed");
  auto port = vt::FreePort();
  ASSERT_TRUE(port);
  auto silent = CheckDomainCaa(
      CaaSettings::From("acme-ca.example", "127.0.0.1:" + std::to_string(*port)), "any.racaa.test");
  ASSERT_FALSE(silent);
  EXPECT_TRUE(silent.error().message.starts_with("CAA for any.racaa.test could not be looked up: "))
      << silent.error().message;
  auto bad_resolver = CheckDomainCaa(CaaSettings::From("acme-ca.example", "dns.example"), "x.test");
  ASSERT_FALSE(bad_resolver);
  EXPECT_NE(bad_resolver.error().message.find("CAA not checked for x.test: resolver"),
            std::string::npos)
      << bad_resolver.error().message;
}

}  // namespace
}  // namespace ca::appliance::ra
