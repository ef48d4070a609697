#include "dns/caa.h"

#include <gtest/gtest.h>

#include "gateway/validation/testing/fixture.h"

namespace ca::dns {
namespace {

namespace vt = ca::gateway::validation::testing;

const std::vector<std::string> kIds = {vt::kCaaIdentity};

class DnsCaaTest : public vt::ChallTestSrvSuite {
 protected:
  static DnsClient Client(const std::string& resolver) {
    auto c = DnsClient::Create(resolver, std::chrono::seconds(1), 1);
    EXPECT_TRUE(c) << c.error().ToString();
    return *c;
  }
  static CaaDecision Check(const std::string& identifier, CaaRequest request = {kIds, {}, {}}) {
    return CheckCaa(Client(srv_->dns_address()), identifier, request);
  }
  static void Caa(const std::string& host, nlohmann::json policies) {
    Post("/add-caa", {{"host", host}, {"policies", policies}});
  }
};

TEST_F(DnsCaaTest, WildcardUsesIssuewildAndTheBaseNameUsesIssue) {
  Caa("wild.dnscaa.test.",
      {{{"tag", "issue"}, {"value", "acme-ca.example"}}, {{"tag", "issuewild"}, {"value", ";"}}});
  CaaDecision base = Check("wild.dnscaa.test");
  EXPECT_EQ(base.verdict, CaaVerdict::kPermitted) << base.detail;
  EXPECT_EQ(base.detail, "issue property at wild.dnscaa.test names this CA");
  CaaDecision wild = Check("*.wild.dnscaa.test");
  EXPECT_EQ(wild.verdict, CaaVerdict::kForbidden);
  EXPECT_EQ(wild.detail,
            "CAA record for wild.dnscaa.test prevents issuance: issuewild \";\" forbids every CA");
  // Without issuewild, a wildcard follows issue.
  Caa("issueonly.dnscaa.test.", {{{"tag", "issue"}, {"value", "other-ca.example"}}});
  CaaDecision other = Check("*.issueonly.dnscaa.test");
  EXPECT_EQ(other.verdict, CaaVerdict::kForbidden);
  EXPECT_EQ(other.detail,
            "CAA record for issueonly.dnscaa.test prevents issuance: issue names "
            "\"other-ca.example\", not this CA");
}

TEST_F(DnsCaaTest, ServfailIsALookupFailureAndASilentResolverNoAnswer) {
  Post("/set-servfail", {{"host", "broken.dnscaa.test."}});
  CaaDecision failed = Check("broken.dnscaa.test");
  EXPECT_EQ(failed.verdict, CaaVerdict::kLookupFailed);
  EXPECT_EQ(failed.detail, "CAA lookup for broken.dnscaa.test failed: SERVFAIL");
  auto port = vt::FreePort();  // nothing listens there
  ASSERT_TRUE(port);
  CaaDecision silent =
      CheckCaa(Client("127.0.0.1:" + std::to_string(*port)), "any.dnscaa.test", {kIds, {}, {}});
  EXPECT_EQ(silent.verdict, CaaVerdict::kNoAnswer) << silent.detail;
  EXPECT_FALSE(silent.detail.empty());
}

TEST_F(DnsCaaTest, ABadNameIsNotLookedUp) {
  CaaDecision bad = Check("bad..dnscaa.test");
  EXPECT_EQ(bad.verdict, CaaVerdict::kBadName);
  EXPECT_NE(bad.detail.find("empty label"), std::string::npos) << bad.detail;
}

TEST(DnsCaaSetTest, UnknownAccountAndMethodPermitWhenTheCaIsNamed) {
  std::vector<CaaRecord> set = {
      {0, "issue",
       "acme-ca.example; accounturi=https://acme.test/acct/1; validationmethods=dns-01"}};
  // The RA: no ACME account, no method yet.
  EXPECT_TRUE(EvaluateCaaSet(set, false, {kIds, {}, {}}, "x.test").permitted());
  // The gateway: both known.
  EXPECT_TRUE(EvaluateCaaSet(set, false, {kIds, "https://acme.test/acct/1", "dns-01"}, "x.test")
                  .permitted());
  CaaDecision other_account =
      EvaluateCaaSet(set, false, {kIds, "https://acme.test/acct/2", "dns-01"}, "x.test");
  EXPECT_EQ(other_account.verdict, CaaVerdict::kForbidden);
  EXPECT_NE(other_account.detail.find("is not this ACME account"), std::string::npos);
  CaaDecision other_method =
      EvaluateCaaSet(set, false, {kIds, "https://acme.test/acct/1", "http-01"}, "x.test");
  EXPECT_EQ(other_method.detail,
            "CAA record for x.test prevents issuance: validationmethods \"dns-01\" does not allow "
            "http-01");
  // An unknown critical tag refuses whatever else the set says.
  EXPECT_EQ(EvaluateCaaSet({{128, "future", "x"}, {0, "issue", "acme-ca.example"}}, false,
                           {kIds, {}, {}}, "x.test")
                .verdict,
            CaaVerdict::kForbidden);
}

}  // namespace
}  // namespace ca::dns
