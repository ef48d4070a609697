#include <gtest/gtest.h>

#include "common/encoding.h"
#include "gateway/validation/testing/fixture.h"

namespace ca::gateway::validation {
namespace {

using testing::ChallTestSrvSuite;

constexpr char kThumbprint[] = "LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ";

class Dns01Test : public ChallTestSrvSuite {
 protected:
  static ChallengeRequest Request(const std::string& identifier, const std::string& token) {
    return {ChallengeType::kDns01, identifier, token, KeyAuthorization(token, kThumbprint),
            testing::kAccountUri,  false};
  }
  static std::string Digest(const std::string& token) {
    return Base64UrlEncode(Sha256(KeyAuthorization(token, kThumbprint)));
  }
};

TEST_F(Dns01Test, ValidAmongAHundredTxtValues) {
  for (int i = 0; i < 50; ++i)
    Post("/set-txt", {{"host", "_acme-challenge.many.dns.test."},
                      {"value", Digest("other" + std::to_string(i))}});
  Post("/set-txt", {{"host", "_acme-challenge.many.dns.test."}, {"value", Digest("tokMany")}});
  for (int i = 50; i < 100; ++i)
    Post("/set-txt", {{"host", "_acme-challenge.many.dns.test."},
                      {"value", Digest("other" + std::to_string(i))}});
  Outcome out = Validate(Config(), Request("many.dns.test", "tokMany"));
  EXPECT_EQ(out.kind, OutcomeKind::kValid) << OutcomeToString(out);
}

TEST_F(Dns01Test, ValidThroughACnameChain) {
  Post("/set-cname",
       {{"host", "_acme-challenge.chain.dns.test."}, {"target", "hop1.delegated.test."}});
  Post("/set-cname", {{"host", "hop1.delegated.test."}, {"target", "hop2.delegated.test."}});
  Post("/set-txt", {{"host", "hop2.delegated.test."}, {"value", Digest("tokChain")}});
  Outcome out = Validate(Config(), Request("chain.dns.test", "tokChain"));
  EXPECT_EQ(out.kind, OutcomeKind::kValid) << OutcomeToString(out);
  EXPECT_NE(out.detail.find("hop2.delegated.test"), std::string::npos) << out.detail;
}

TEST_F(Dns01Test, WildcardUsesTheBaseName) {
  Post("/set-txt", {{"host", "_acme-challenge.wild.dns.test."}, {"value", Digest("tokWild")}});
  Outcome out = Validate(Config(), Request("*.wild.dns.test", "tokWild"));
  EXPECT_EQ(out.kind, OutcomeKind::kValid) << OutcomeToString(out);
}

TEST_F(Dns01Test, WrongValueIsIncorrectResponse) {
  Post("/set-txt",
       {{"host", "_acme-challenge.wrong.dns.test."}, {"value", Digest("someOtherToken")}});
  Outcome out = Validate(Config(), Request("wrong.dns.test", "tokWrong"));
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(out.problem, ProblemType::kIncorrectResponse);
  EXPECT_NE(out.detail.find("Incorrect TXT record \"" + Digest("someOtherToken") + "\""),
            std::string::npos)
      << out.detail;
}

TEST_F(Dns01Test, MissingRecordIsUnauthorizedAndCnameLoopIsDnsProblem) {
  Outcome none = Validate(Config(), Request("none.dns.test", "tokNone"));
  ASSERT_EQ(none.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(none.problem, ProblemType::kUnauthorized);
  EXPECT_NE(none.detail.find("No TXT record found at _acme-challenge.none.dns.test"),
            std::string::npos)
      << none.detail;

  Post("/set-cname", {{"host", "_acme-challenge.loop.dns.test."}, {"target", "l1.loop.test."}});
  Post("/set-cname", {{"host", "l1.loop.test."}, {"target", "l2.loop.test."}});
  Post("/set-cname", {{"host", "l2.loop.test."}, {"target", "l1.loop.test."}});
  Outcome loop = Validate(Config(), Request("loop.dns.test", "tokLoop"));
  ASSERT_EQ(loop.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(loop.problem, ProblemType::kDns);
  EXPECT_NE(loop.detail.find("CNAME loop"), std::string::npos) << loop.detail;
}

}  // namespace
}  // namespace ca::gateway::validation
