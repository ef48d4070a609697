#include "gateway/validation/caa.h"

#include <gtest/gtest.h>

#include "gateway/validation/testing/fixture.h"
#include "gateway/validation/testing/test_servers.h"

namespace ca::gateway::validation {
namespace {

using testing::ChallTestSrvSuite;
using testing::kAccountUri;

class CaaTest : public ChallTestSrvSuite {
 protected:
  static Outcome Check(const ValidatorConfig& c, const std::string& identifier,
                       std::optional<ChallengeType> method = ChallengeType::kDns01) {
    auto v = MakeValidator(c);
    if (!v) return Outcome::Invalid(ProblemType::kMalformed, "no validator");
    auto out = v->CheckCaa(identifier, CaaRequest{kAccountUri, method},
                           Clock::now() + std::chrono::seconds(20));
    if (!out) return Outcome::Invalid(ProblemType::kMalformed, out.error().message);
    return *out;
  }
  static void Caa(const std::string& host, nlohmann::json policies) {
    Post("/add-caa", {{"host", host}, {"policies", policies}});
  }
};

TEST_F(CaaTest, NoCaaAnywhereAllows) {
  Outcome out = Check(Config(), "www.nocaa.test");
  EXPECT_EQ(out.kind, OutcomeKind::kValid) << OutcomeToString(out);
  EXPECT_EQ(out.detail, "no CAA records for www.nocaa.test or its parents");
}

TEST_F(CaaTest, IssueForUsAllowsAndForAnotherCaRefuses) {
  Caa("ours.caa.test", {{{"tag", "issue"}, {"value", "Acme-CA.example"}}});
  EXPECT_EQ(Check(Config(), "ours.caa.test").kind, OutcomeKind::kValid);
  Caa("theirs.caa.test", {{{"tag", "issue"}, {"value", "other-ca.example"}}});
  Outcome out = Check(Config(), "theirs.caa.test");
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(out.problem, ProblemType::kCaa);
  EXPECT_EQ(out.detail,
            "CAA record for theirs.caa.test prevents issuance: issue names \"other-ca.example\", "
            "not this CA");
  Caa("nobody.caa.test", {{{"tag", "issue"}, {"value", ";"}}});
  Outcome nobody = Check(Config(), "nobody.caa.test");
  ASSERT_EQ(nobody.kind, OutcomeKind::kInvalid);
  EXPECT_NE(nobody.detail.find("forbids every CA"), std::string::npos) << nobody.detail;
}

TEST_F(CaaTest, TreeClimbingUsesTheFirstNonEmptySet) {
  Caa("parent.test", {{{"tag", "issue"}, {"value", "other-ca.example"}}});
  Outcome out = Check(Config(), "a.b.parent.test");
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_NE(out.detail.find("CAA record for parent.test"), std::string::npos) << out.detail;
  // A closer set wins over the parent's.
  Caa("b.parent.test", {{{"tag", "issue"}, {"value", "acme-ca.example"}}});
  EXPECT_EQ(Check(Config(), "a.b.parent.test").kind, OutcomeKind::kValid);
}

TEST_F(CaaTest, IssuewildForWildcards) {
  Caa("wild.caa.test",
      {{{"tag", "issue"}, {"value", "acme-ca.example"}}, {{"tag", "issuewild"}, {"value", ";"}}});
  EXPECT_EQ(Check(Config(), "wild.caa.test").kind, OutcomeKind::kValid);
  Outcome wild = Check(Config(), "*.wild.caa.test");
  ASSERT_EQ(wild.kind, OutcomeKind::kInvalid);
  EXPECT_NE(wild.detail.find("issuewild \";\" forbids every CA"), std::string::npos) << wild.detail;
  // Without issuewild, issue governs wildcards too.
  Caa("wild2.caa.test", {{{"tag", "issue"}, {"value", "acme-ca.example"}}});
  EXPECT_EQ(Check(Config(), "*.wild2.caa.test").kind, OutcomeKind::kValid);
}

TEST_F(CaaTest, AccountUriAndValidationMethods) {
  Caa("acct.caa.test",
      {{{"tag", "issue"}, {"value", "acme-ca.example; accounturi=https://acme.test/acme/acct/7"}}});
  Outcome acct = Check(Config(), "acct.caa.test");
  ASSERT_EQ(acct.kind, OutcomeKind::kInvalid);
  EXPECT_NE(
      acct.detail.find("accounturi \"https://acme.test/acme/acct/7\" is not this ACME account"),
      std::string::npos)
      << acct.detail;
  Caa("acct-ok.caa.test",
      {{{"tag", "issue"}, {"value", std::string("acme-ca.example; accounturi=") + kAccountUri}}});
  EXPECT_EQ(Check(Config(), "acct-ok.caa.test").kind, OutcomeKind::kValid);

  Caa("method.caa.test",
      {{{"tag", "issue"}, {"value", "acme-ca.example; validationmethods=http-01,tls-alpn-01"}}});
  Outcome method = Check(Config(), "method.caa.test", ChallengeType::kDns01);
  ASSERT_EQ(method.kind, OutcomeKind::kInvalid);
  EXPECT_NE(method.detail.find("validationmethods \"http-01,tls-alpn-01\" does not allow dns-01"),
            std::string::npos)
      << method.detail;
  EXPECT_EQ(Check(Config(), "method.caa.test", ChallengeType::kTlsAlpn01).kind,
            OutcomeKind::kValid);
}

TEST_F(CaaTest, CriticalUnknownTagRefusesOnOwnResponder) {
  testing::TinyCaaDns dns;
  dns.Set("crit.example.test", {{128, "future-tag", "x"}, {0, "issue", "acme-ca.example"}});
  dns.Set("noncrit.example.test", {{0, "future-tag", "x"}, {0, "issue", "acme-ca.example"}});
  dns.Set("critiodef.example.test",
          {{128, "iodef", "mailto:x@example.test"}, {0, "issue", "acme-ca.example"}});
  auto c = Config();
  c.resolver = dns.address();
  Outcome crit = Check(c, "crit.example.test");
  ASSERT_EQ(crit.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(crit.problem, ProblemType::kCaa);
  EXPECT_NE(crit.detail.find("unknown critical property \"future-tag\""), std::string::npos)
      << crit.detail;
  EXPECT_EQ(Check(c, "noncrit.example.test").kind, OutcomeKind::kValid);
  EXPECT_EQ(Check(c, "critiodef.example.test").kind, OutcomeKind::kValid);
}

TEST_F(CaaTest, LookupFailureRefuses) {
  Post("/set-servfail", {{"host", "sf.caa.test."}});
  Outcome out = Check(Config(), "sf.caa.test");
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(out.problem, ProblemType::kCaa);
  EXPECT_NE(out.detail.find("CAA lookup for sf.caa.test failed: SERVFAIL"), std::string::npos)
      << out.detail;
}

TEST(CaaEvaluateTest, ParametersAndMalformedValues) {
  std::vector<std::string> ids = {"acme-ca.example"};
  CaaRequest at_new_order{kAccountUri, std::nullopt};
  // Without a known method, validationmethods is left to the validation-time check.
  EXPECT_TRUE(EvaluateCaaSet({{0, "issue", "acme-ca.example; validationmethods=http-01"}}, false,
                             ids, at_new_order, "x")
                  .valid());
  EXPECT_FALSE(
      EvaluateCaaSet({{0, "issue", "acme-ca.example; broken"}}, false, ids, at_new_order, "x")
          .valid());
  // One permitting record among several is enough.
  EXPECT_TRUE(EvaluateCaaSet({{0, "issue", "other.example"}, {0, "ISSUE", " acme-ca.example "}},
                             false, ids, at_new_order, "x")
                  .valid());
  // Only iodef: no issue property, so no restriction.
  EXPECT_TRUE(
      EvaluateCaaSet({{0, "iodef", "mailto:a@b.c"}}, false, ids, at_new_order, "x").valid());
}

}  // namespace
}  // namespace ca::gateway::validation
