#include "gateway/validation/validator.h"

#include <gtest/gtest.h>


#include "common/encoding.h"
#include "gateway/validation/testing/fixture.h"
#include "gateway/validation/testing/test_servers.h"

namespace ca::gateway::validation {
namespace {

using testing::ChallTestSrv;
using testing::ChallTestSrvSuite;

constexpr char kThumbprint[] = "z7Vb8c3G4wPcwVnv2JfG1lzwU0n6H9mG3Jr3T0wqYbE";

class MultiPerspectiveTest : public ChallTestSrvSuite {
 protected:
  static ChallengeRequest Dns01(const std::string& name, const std::string& token) {
    return {ChallengeType::kDns01, name, token, KeyAuthorization(token, kThumbprint),
            testing::kAccountUri,  false};
  }
  static std::string Digest(const std::string& token) {
    return Base64UrlEncode(Sha256(KeyAuthorization(token, kThumbprint)));
  }
};

TEST_F(MultiPerspectiveTest, QuorumDecidesWhenOneResolverDisagrees) {
  auto second = ChallTestSrv::Start();
  ASSERT_TRUE(second) << second.error().ToString();
  // Only the first perspective's resolver has the record.
  Post("/set-txt", {{"host", "_acme-challenge.mp.test."}, {"value", Digest("tokMp")}});
  auto c = Config();
  c.vantage_points = {{"east", srv_->dns_address(), ""},
                      {"west", (*second)->dns_address(), "127.0.0.1"}};
  c.quorum = 2;
  Outcome strict = Validate(c, Dns01("mp.test", "tokMp"));
  ASSERT_EQ(strict.kind, OutcomeKind::kInvalid) << OutcomeToString(strict);
  EXPECT_EQ(strict.problem, ProblemType::kUnauthorized);
  EXPECT_NE(
      strict.detail.find("1 of 2 vantage points succeeded (quorum 2); west: No TXT record found"),
      std::string::npos)
      << strict.detail;
  c.quorum = 1;
  Outcome lenient = Validate(c, Dns01("mp.test", "tokMp"));
  EXPECT_EQ(lenient.kind, OutcomeKind::kValid) << OutcomeToString(lenient);
  EXPECT_EQ(lenient.detail, "1 of 2 vantage points succeeded (quorum 1)");
  // Both agree once the second resolver has it too.
  ASSERT_TRUE((*second)->Post("/set-txt",
                              {{"host", "_acme-challenge.mp.test."}, {"value", Digest("tokMp")}}));
  c.quorum = 2;
  EXPECT_EQ(Validate(c, Dns01("mp.test", "tokMp")).kind, OutcomeKind::kValid);
}

TEST_F(MultiPerspectiveTest, UnreachableVantagePointsAreTransient) {
  Post("/set-txt", {{"host", "_acme-challenge.down.test."}, {"value", Digest("tokDown")}});
  std::string silent = "127.0.0.1:" + std::to_string(testing::FreePort().value());
  auto c = Config();
  c.vantage_points = {{"up", srv_->dns_address(), ""}, {"down", silent, ""}};
  c.quorum = 2;
  Outcome one_down = Validate(c, Dns01("down.test", "tokDown"));
  ASSERT_EQ(one_down.kind, OutcomeKind::kUnavailable) << OutcomeToString(one_down);
  EXPECT_NE(one_down.detail.find("could not reach enough vantage points: 1 of 2"),
            std::string::npos)
      << one_down.detail;
  EXPECT_NE(one_down.detail.find("vantage point down: no answer from resolver"), std::string::npos)
      << one_down.detail;
  testing::SilentUdp timing_out;
  c.vantage_points = {{"down", silent, ""}, {"slow", timing_out.address(), ""}};
  c.quorum = 1;
  Outcome none = Validate(c, Dns01("down.test", "tokDown"));
  ASSERT_EQ(none.kind, OutcomeKind::kUnavailable) << OutcomeToString(none);
  EXPECT_NE(none.detail.find("0 of 2 vantage points succeeded"), std::string::npos) << none.detail;
}

TEST_F(MultiPerspectiveTest, CaaIsCheckedWithTheMethodAfterValidation) {
  Post("/set-txt", {{"host", "_acme-challenge.caa-after.test."}, {"value", Digest("tokCaa")}});
  Post("/add-caa",
       {{"host", "caa-after.test"},
        {"policies",
         {{{"tag", "issue"}, {"value", "acme-ca.example; validationmethods=http-01"}}}}});
  auto request = Dns01("caa-after.test", "tokCaa");
  request.check_caa = true;
  Outcome out = Validate(Config(), request);
  ASSERT_EQ(out.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(out.problem, ProblemType::kCaa);
  EXPECT_NE(out.detail.find("does not allow dns-01"), std::string::npos) << out.detail;
}

}  // namespace
}  // namespace ca::gateway::validation
