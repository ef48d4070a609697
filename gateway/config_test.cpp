#include "gateway/config.h"

#include <gtest/gtest.h>

namespace ca::gateway {
namespace {

nlohmann::json Minimal() {
  return {{"base_url", "https://acme.test"},
          {"store", "/s"},
          {"policy_store", "/p"},
          {"profiles_dir", "/d"},
          {"caa_identities", {"ca.test"}},
          {"tls", {{"cert", "/c"}, {"key", "/k"}}},
          {"engine",
           {{"socket", "/e"}, {"client_cert", "/c"}, {"client_key", "/k"}, {"fingerprint", "00"}}}};
}

TEST(GatewayConfig, ConnectionLimitsAndMetricsListenerDefaults) {
  auto c = GatewayConfig::FromJson(Minimal());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->http.max_connections, 0u);  // sized to the descriptor limit
  EXPECT_EQ(c->http.max_connections_per_ip, 64u);
  EXPECT_EQ(c->http.request_deadline_seconds, 10u);
  EXPECT_TRUE(c->metrics.enabled);
  EXPECT_EQ(c->metrics.address, "127.0.0.1");
  EXPECT_EQ(c->metrics.port, 9180);
}

TEST(GatewayConfig, ConnectionLimitsAndMetricsListenerSet) {
  auto doc = Minimal();
  doc["listen"] = {{"max_connections", 500},
                   {"max_connections_per_ip", 0},
                   {"request_deadline_seconds", 5},
                   {"idle_timeout_seconds", 20}};
  doc["metrics"] = {{"address", "10.0.0.5"}, {"port", 9999}, {"enabled", false}};
  auto c = GatewayConfig::FromJson(doc);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->http.max_connections, 500u);
  EXPECT_EQ(c->http.max_connections_per_ip, 0u);
  EXPECT_EQ(c->http.request_deadline_seconds, 5u);
  EXPECT_EQ(c->http.connection_timeout_seconds, 20u);
  EXPECT_FALSE(c->metrics.enabled);
  EXPECT_EQ(c->metrics.address, "10.0.0.5");
  EXPECT_EQ(c->metrics.port, 9999);
}

TEST(GatewayConfig, RefusesOutOfRangeLimitsAndUnknownMetricsKeys) {
  for (const auto& [section, key, value] :
       {std::tuple{"listen", "request_deadline_seconds", 0},
        std::tuple{"listen", "request_deadline_seconds", 301},
        std::tuple{"listen", "max_connections_per_ip", -1}, std::tuple{"metrics", "port", 70000},
        std::tuple{"metrics", "path", 1}}) {
    auto doc = Minimal();
    doc[section] = {{key, value}};
    auto c = GatewayConfig::FromJson(doc);
    ASSERT_FALSE(c) << section << "." << key;
    EXPECT_NE(c.error().message.find(key), std::string::npos) << c.error().message;
  }
}

// The bounded wait of a challenge POST for its validation: on by default, set in "limits", and
// never without request workers (the POST would hold one of libmicrohttpd's polling threads).
TEST(GatewayConfig, ValidationAnswerWait) {
  auto c = GatewayConfig::FromJson(Minimal());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->acme.validation_answer_wait_ms, 250);
  auto doc = Minimal();
  doc["limits"] = {{"validation_answer_wait_ms", 400}};
  c = GatewayConfig::FromJson(doc);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->acme.validation_answer_wait_ms, 400);
  doc["listen"] = {{"request_workers", 0}};
  c = GatewayConfig::FromJson(doc);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->acme.validation_answer_wait_ms, 0);
  doc = Minimal();
  doc["limits"] = {{"validation_answer_wait_ms", 5001}};
  c = GatewayConfig::FromJson(doc);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("validation_answer_wait_ms"), std::string::npos);
}

// The staging directory (CA-8): per account unless the operator opens it to all; the setting
// belongs to a staging gateway only.
TEST(GatewayConfig, StagingAccess) {
  auto doc = Minimal();
  doc["environment"] = "staging";
  auto c = GatewayConfig::FromJson(doc);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->acme.staging_access, "per-account");
  doc["staging_access"] = "all";
  c = GatewayConfig::FromJson(doc);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->acme.staging_access, "all");
  doc["staging_access"] = "some";
  c = GatewayConfig::FromJson(doc);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("staging_access: must be per-account or all"), std::string::npos)
      << c.error().message;
  doc = Minimal();
  doc["staging_access"] = "all";
  c = GatewayConfig::FromJson(doc);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("staging gateway"), std::string::npos) << c.error().message;
}

TEST(GatewayConfig, GlobalConnectionLimitFollowsTheDescriptorLimit) {
  EXPECT_EQ(MaxConnectionsFor(1024), 768u);
  EXPECT_EQ(MaxConnectionsFor(16384), 8192u);  // capped: memory
  EXPECT_EQ(MaxConnectionsFor(100), 64u);      // floor
  EXPECT_EQ(MaxConnectionsFor(UINT64_MAX), 8192u);
}

// Issue 20: a gateway of a pair lists its engine endpoints and reads the pair's nonce key.
TEST(GatewayConfig, EngineEndpointsAndSharedNonces) {
  auto c = GatewayConfig::FromJson(Minimal());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->engine.endpoints, std::vector<std::string>{"/e"});
  EXPECT_EQ(c->nonce_key_file, "");
  EXPECT_FALSE(c->acme.shared_nonce_key);
  EXPECT_TRUE(ValidGatewayId(c->acme.gateway_id)) << c->acme.gateway_id;  // the host name

  auto doc = Minimal();
  doc["engine"].erase("socket");
  doc["engine"]["endpoints"] = {"/run/ca-engine/engine.sock", "tcp:10.0.0.2:7443"};
  doc["engine"]["peer_fingerprints"] = {std::string(64, 'c')};
  doc["nonce_key_file"] = "/etc/acme-ca/nonce.key";
  doc["gateway_id"] = "node-a";
  c = GatewayConfig::FromJson(doc);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->engine.endpoints,
            (std::vector<std::string>{"/run/ca-engine/engine.sock", "tcp:10.0.0.2:7443"}));
  EXPECT_EQ(c->engine.more_fingerprints, std::vector<std::string>{std::string(64, 'c')});
  EXPECT_EQ(c->nonce_key_file, "/etc/acme-ca/nonce.key");
  EXPECT_EQ(c->acme.gateway_id, "node-a");

  auto bad = [](nlohmann::json d, const std::string& fragment) {
    auto r = GatewayConfig::FromJson(d);
    ASSERT_FALSE(r) << fragment;
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
  };
  auto both = doc;
  both["engine"]["socket"] = "/e";
  bad(both, "exactly one of socket and endpoints");
  auto tcp_no_port = doc;
  tcp_no_port["engine"]["endpoints"] = {"tcp:10.0.0.2"};
  bad(tcp_no_port, "endpoints");
  auto relative = doc;
  relative["engine"]["endpoints"] = {"engine.sock"};
  bad(relative, "endpoints");
  auto empty = doc;
  empty["engine"]["endpoints"] = nlohmann::json::array();
  bad(empty, "endpoints");
  auto id = doc;
  id["gateway_id"] = "node a";
  bad(id, "gateway_id");
}

}  // namespace
}  // namespace ca::gateway
