#include "gateway/validation/config.h"

#include <gtest/gtest.h>

#include "gateway/validation/outcome.h"

namespace ca::gateway::validation {
namespace {

TEST(ValidatorConfigTest, ReadsEveryKey) {
  auto c = ValidatorConfig::FromJson(nlohmann::json::parse(R"({
    "vantage_points": [{"name": "a", "resolver": "127.0.0.1:8053"},
                       {"name": "b", "resolver": "127.0.0.2", "source_address": "127.0.0.1"}],
    "quorum": 2, "http01_port": 5002, "https_port": 5003, "tlsalpn01_port": 5001,
    "dns_timeout_seconds": 2, "dns_attempts": 1, "connect_timeout_ms": 700, "io_timeout_ms": 900,
    "max_redirects": 3, "max_body_bytes": 4096, "max_cname_depth": 4, "caa_identities": ["acme-ca.example"],
    "allowed_networks": ["10.0.0.0/8", "fd00::/8", "127.0.0.1"]})"));
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->quorum, 2u);
  ASSERT_EQ(c->EffectiveVantagePoints().size(), 2u);
  EXPECT_EQ(c->EffectiveVantagePoints()[1].source_address, "127.0.0.1");
  EXPECT_EQ(c->http01_port, 5002);
  EXPECT_EQ(c->https_port, 5003);
  EXPECT_EQ(c->tlsalpn01_port, 5001);
  EXPECT_EQ(c->dns_timeout, std::chrono::seconds(2));
  EXPECT_EQ(c->connect_timeout, std::chrono::milliseconds(700));
  EXPECT_EQ(c->max_redirects, 3);
  EXPECT_EQ(c->max_body_bytes, 4096u);
  EXPECT_EQ(c->caa_identities, std::vector<std::string>{"acme-ca.example"});
  ASSERT_EQ(c->allowed_networks.size(), 3u);
  EXPECT_EQ(c->allowed_networks[1].ToString(), "fd00::/8");
  EXPECT_EQ(c->allowed_networks[2].ToString(), "127.0.0.1/32");
}

TEST(ValidatorConfigTest, DefaultsToOneVantagePointOnTheResolver) {
  auto c = ValidatorConfig::FromJson(
      {{"resolver", "10.0.0.53:5353"}, {"caa_identities", {"ca.example"}}});
  ASSERT_TRUE(c) << c.error().ToString();
  auto points = c->EffectiveVantagePoints();
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].resolver, "10.0.0.53:5353");
  EXPECT_EQ(c->quorum, 1u);
  EXPECT_EQ(c->http01_port, 80);
  EXPECT_EQ(c->https_port, 443);
  EXPECT_EQ(c->tlsalpn01_port, 443);
  EXPECT_EQ(c->max_redirects, 10);
  EXPECT_TRUE(c->allowed_networks.empty());  // nothing listed: http-01 / tls-alpn-01 dial nothing
}

TEST(ValidatorConfigTest, RefusesBadInputWithOneClearError) {
  struct Case {
    const char* json;
    const char* message_part;
  } cases[] = {
      {R"({"caa_identities":["x.example"],"bogus":1})", "validation: unknown field 'bogus'"},
      {R"({"caa_identities":["x.example"],"quorum":2})",
       "quorum must be between 1 and the number of vantage points (1)"},
      {R"({"caa_identities":["x.example"],"resolver":"dns.example:53"})",
       "expected an IPv4 address"},
      {R"({"caa_identities":["x.example"],"resolver":"127.0.0.1:0"})", "bad port"},
      {R"({"resolver":"127.0.0.1"})", "caa_identities must name at least one identity"},
      {R"({"caa_identities":["x.example"],"http01_port":70000})",
       "validation.http01_port: expected an integer in [1, 65535]"},
      {R"({"caa_identities":["x.example"],"vantage_points":[{"resolver":"127.0.0.1","source_address":"nope"}]})",
       "source_address is not an IP address"},
      {R"({"caa_identities":["x.example"],"allowed_networks":["10.0.0.1/8"]})",
       "validation.allowed_networks: network '10.0.0.1/8': host bits are set"},
      {R"({"caa_identities":["x.example"],"allowed_networks":"10.0.0.0/8"})",
       "validation.allowed_networks"},
  };
  for (const auto& c : cases) {
    auto r = ValidatorConfig::FromJson(nlohmann::json::parse(c.json));
    ASSERT_FALSE(r) << c.json;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.message_part), std::string::npos) << r.error().message;
  }
}

TEST(ValidatorConfigTest, RemoteAgentsAndQuorumRules) {
  auto json = nlohmann::json::parse(R"({
    "remote_agents": [
      {"name": "dmz", "url": "https://10.1.0.5:8744/validate", "client_cert_file": "/c.pem",
       "client_key_file": "/c.key", "ca_file": "/ca.pem"},
      {"name": "lan", "url": "https://10.2.0.5:8744/validate", "client_cert_file": "/c.pem",
       "client_key_file": "/c.key", "ca_file": "/ca.pem"},
      {"url": "https://10.3.0.5:8744/validate", "client_cert_file": "/c.pem",
       "client_key_file": "/c.key", "ca_file": "/ca.pem"}],
    "quorum": "all", "caa_identities": ["acme-ca.example"]})");
  auto c = ValidatorConfig::FromJson(json);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_TRUE(c->EffectiveVantagePoints().empty()) << "with agents, no implicit local perspective";
  ASSERT_EQ(c->remote_agents.size(), 3u);
  EXPECT_EQ(c->remote_agents[2].name, "agent3");
  EXPECT_EQ(c->quorum_rule, QuorumRule::kAll);
  EXPECT_EQ(c->RequiredSuccesses(), 3u);
  json["quorum"] = "all_but_one";
  EXPECT_EQ(ValidatorConfig::FromJson(json)->RequiredSuccesses(), 2u);
  auto refused = [&](nlohmann::json j, const std::string& why) {
    auto r = ValidatorConfig::FromJson(j);
    ASSERT_FALSE(r) << j.dump();
    EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
  };
  auto bad = json;
  bad["quorum"] = "most";
  refused(bad, "\"all\" or \"all_but_one\"");
  bad = json;
  bad["remote_agents"][0]["url"] = "http://10.1.0.5/validate";
  refused(bad, "url must start with https://");
  bad = json;
  bad["remote_agents"][1]["name"] = "dmz";
  refused(bad, "'dmz' is not unique");
  bad = json;
  bad["remote_agents"][0].erase("client_key_file");
  refused(bad, "client_key_file");
  bad = json;
  bad["quorum"] = 4;
  refused(bad, "quorum must be between 1 and the number of vantage points (3)");
}

TEST(OutcomeTest, ProblemTypesAreAcmeUrns) {
  EXPECT_EQ(ProblemTypeUrn(ProblemType::kCaa), "urn:ietf:params:acme:error:caa");
  EXPECT_EQ(ProblemTypeUrn(ProblemType::kIncorrectResponse),
            "urn:ietf:params:acme:error:incorrectResponse");
  EXPECT_EQ(OutcomeToString(Outcome::Invalid(ProblemType::kDns, "x")), "invalid(dns): x");
  EXPECT_EQ(ParseChallengeType("tls-alpn-01").value(), ChallengeType::kTlsAlpn01);
  EXPECT_FALSE(ParseChallengeType("http-02"));
}

}  // namespace
}  // namespace ca::gateway::validation
