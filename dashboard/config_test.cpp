#include "dashboard/config.h"

#include <gtest/gtest.h>

namespace ca::dashboard {
namespace {

constexpr const char* kGood = R"({"listen_address": "127.0.0.1", "port": 23006,
  "tls": {"cert": "/c.pem", "key": "/k.pem"}, "policy_store": "/p",
  "audit": {"engine": "/a/e", "gateway": "/a/g", "ra": "/a/r"}, "session_ttl_seconds": 600})";

TEST(DashboardConfig, Parses) {
  auto c = ParseDashboardConfig(kGood);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->port, 23006);
  EXPECT_EQ(c->tls_key_path, "/k.pem");
  EXPECT_EQ(c->audit.gateway, "/a/g");
  EXPECT_EQ(c->session_ttl_seconds, 600);
  EXPECT_EQ(c->audit.gateway_staging, "");  // no staging service
}

TEST(DashboardConfig, StagingGatewayAuditFileIsOptional) {
  const std::string ra = R"("ra": "/a/r")";
  auto with_staging = [&](std::string_view value) {
    std::string text = kGood;
    return text.replace(text.find(ra), ra.size(),
                        ra + R"(, "gateway_staging": ")" + std::string(value) + "\"");
  };
  auto c = ParseDashboardConfig(with_staging("/a/gs"));
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->audit.gateway_staging, "/a/gs");
  EXPECT_FALSE(ParseDashboardConfig(with_staging("")));  // given, it must be a path
}

TEST(DashboardConfig, RefusesUnknownKeysAndMissingPaths) {
  std::string unknown = std::string(kGood);
  unknown.insert(1, "\"hsm\": 1, ");
  auto c = ParseDashboardConfig(unknown);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("hsm"), std::string::npos) << c.error().message;
  EXPECT_FALSE(ParseDashboardConfig(R"({"tls": {"cert": "/c"}, "policy_store": "/p",
      "audit": {"engine": "e", "gateway": "g", "ra": "r"}})"));
  EXPECT_FALSE(ParseDashboardConfig(R"({"port": 70000, "tls": {"cert": "/c", "key": "/k"},
      "policy_store": "/p", "audit": {"engine": "e", "gateway": "g", "ra": "r"}})"));
  EXPECT_FALSE(ParseDashboardConfig("not json"));
}

}  // namespace
}  // namespace ca::dashboard
