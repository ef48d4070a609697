#include "gateway/validation/agent_protocol.h"

#include <gtest/gtest.h>

namespace ca::gateway::validation {
namespace {

AgentRequest Sample() {
  AgentRequest r;
  r.challenge = {ChallengeType::kHttp01,
                 "www.example.test",
                 "tok",
                 "tok.thumb",
                 "https://acme.test/acct/1",
                 true};
  r.http01_port = 5002;
  r.timeout_ms = 1500;
  return r;
}

TEST(AgentProtocolTest, RequestRoundTrips) {
  auto parsed = ParseAgentRequest(EncodeAgentRequest(Sample()));
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->check, AgentRequest::Check::kChallenge);
  EXPECT_EQ(parsed->challenge.type, ChallengeType::kHttp01);
  EXPECT_EQ(parsed->challenge.identifier, "www.example.test");
  EXPECT_EQ(parsed->challenge.key_authorization, "tok.thumb");
  EXPECT_TRUE(parsed->challenge.check_caa);
  EXPECT_EQ(parsed->http01_port, 5002);
  EXPECT_EQ(parsed->timeout_ms, 1500);
  AgentRequest caa;
  caa.check = AgentRequest::Check::kCaa;
  caa.challenge.identifier = "*.example.test";
  caa.caa_method = ChallengeType::kDns01;
  auto c = ParseAgentRequest(EncodeAgentRequest(caa));
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->check, AgentRequest::Check::kCaa);
  EXPECT_EQ(c->caa_method, ChallengeType::kDns01);
}

TEST(AgentProtocolTest, HostileRequestsAreRefusedWithAReason) {
  auto base = nlohmann::json::parse(EncodeAgentRequest(Sample()));
  auto refused = [](const std::string& body, const std::string& reason) {
    auto r = ParseAgentRequest(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(reason), std::string::npos) << r.error().message;
  };
  refused(std::string(kMaxAgentRequestBytes + 1, ' '), "larger than 8192 bytes");
  refused("{\"check\":", "not a JSON object");
  refused("[1,2]", "not a JSON object");
  refused(std::string("{\"a\":\"\0\"}", 9), "not a JSON object");
  auto with = [&](const char* key, nlohmann::json value) {
    auto j = base;
    if (value.is_null())
      j.erase(key);
    else
      j[key] = value;
    return j.dump();
  };
  refused(with("check", "everything"), "check");
  refused(with("type", "http-02"), "unknown challenge type");
  refused(with("http01_port", 0), "http01_port");
  refused(with("http01_port", "80"), "http01_port");
  refused(with("timeout_ms", 10000000), "timeout_ms");
  refused(with("token", nullptr), "token");
  refused(with("identifier", 42), "identifier");
  refused(with("source_address", "10.0.0.1"), "source_address");
}

TEST(AgentProtocolTest, AnswersRoundTripAndNonsenseIsRefused) {
  AgentAnswer a{Outcome::Invalid(ProblemType::kDns, "NXDOMAIN"), {"10.0.0.5"}};
  auto parsed = ParseAgentAnswer(EncodeAgentAnswer(a));
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->outcome.kind, OutcomeKind::kInvalid);
  EXPECT_EQ(parsed->outcome.problem, ProblemType::kDns);
  EXPECT_EQ(parsed->addresses, std::vector<std::string>{"10.0.0.5"});
  EXPECT_FALSE(ParseAgentAnswer(R"({"outcome":"invalid","detail":"x","addresses":[]})"));
  EXPECT_FALSE(
      ParseAgentAnswer(R"({"outcome":"invalid","problem":"urn:x","detail":"x","addresses":[]})"));
  EXPECT_FALSE(ParseAgentAnswer(R"({"outcome":"maybe","detail":"x","addresses":[]})"));
  EXPECT_FALSE(ParseAgentAnswer(std::string(kMaxAgentAnswerBytes + 1, ' ')));
}

TEST(AgentProtocolTest, ReportsForTheAuditTrail) {
  std::vector<PerspectiveReport> reports = {
      {"dmz", true, OutcomeKind::kValid, ProblemType::kConnection, "ok", {"10.1.0.5"}},
      {"lan", true, OutcomeKind::kInvalid, ProblemType::kConnection, "refused", {"10.2.0.9"}}};
  auto j = PerspectiveReportsToJson(reports);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["outcome"], "valid");
  EXPECT_FALSE(j[0].contains("problem"));
  EXPECT_EQ(j[1]["problem"], "urn:ietf:params:acme:error:connection");
  EXPECT_EQ(j[1]["addresses"][0], "10.2.0.9");
}

}  // namespace
}  // namespace ca::gateway::validation
