#include "crl_ocsp/server/config.h"

#include <gtest/gtest.h>

namespace ca::crl_ocsp::server {
namespace {

TEST(ServerConfig, ParsesAndDefaults) {
  auto c = ParseServerConfig(
      R"({"store":"/s","issuers":["ca-2026"],"port":0,"threads":2,"max_age_seconds":60})");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->listen_address, "127.0.0.1");
  EXPECT_EQ(c->port, 0);
  EXPECT_EQ(c->threads, 2u);
  EXPECT_EQ(c->max_age.count(), 60);
  EXPECT_EQ(c->issuers, std::vector<std::string>{"ca-2026"});
}

TEST(ServerConfig, RefusesBadInput) {
  EXPECT_EQ(ParseServerConfig("{").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseServerConfig(R"({"store":"/s","issuers":["a"],"bogus":1})").error().message,
            "config: unknown field 'bogus'");
  EXPECT_EQ(ParseServerConfig(R"({"issuers":["a"]})").error().message,
            "config.store: expected the status store directory");
  EXPECT_EQ(ParseServerConfig(R"({"store":"/s","issuers":["../x"]})")
                .error()
                .message.rfind("config: issuer name", 0),
            0u);
  EXPECT_EQ(ParseServerConfig(R"({"store":"/s","issuers":["a"],"port":70000})").error().message,
            "config.port: expected an integer 0-65535");
  EXPECT_FALSE(ParseServerConfig(R"({"store":"/s","issuers":["a"],"listen_address":"localhost"})"));
}

TEST(ServerConfig, CrlShardsPerIssuer) {
  auto c = ParseServerConfig(
      R"({"store":"/s","issuers":["ca-2026","root"],"crl_shards":{"ca-2026":16}})");
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->CrlShardsOf("ca-2026"), 16u);
  EXPECT_EQ(c->CrlShardsOf("root"), 0u);
  EXPECT_EQ(ParseServerConfig(R"({"store":"/s","issuers":["a"],"crl_shards":{"b":4}})")
                .error()
                .message,
            "config.crl_shards.b: not one of the issuers served");
  EXPECT_FALSE(ParseServerConfig(R"({"store":"/s","issuers":["a"],"crl_shards":{"a":1025}})"));
  EXPECT_FALSE(ParseServerConfig(R"({"store":"/s","issuers":["a"],"crl_shards":4})"));
}

}  // namespace
}  // namespace ca::crl_ocsp::server
