#include "engine/config.h"

#include <gtest/gtest.h>

namespace ca::engine {
namespace {

using nlohmann::json;

json Valid() {
  json inst = {{"store", "/s/ca"},
               {"status_store", "/s/status"},
               {"issuer_name", "int-1"},
               {"profiles_dir", "/p"},
               {"intermediate_key_label", "int"},
               {"intermediate_cert", "/c/int.pem"},
               {"ocsp_key_label", "ocsp"},
               {"ocsp_cert", "/c/ocsp.pem"},
               {"ocsp_url", "http://ocsp.test"},
               {"ca_issuers_url", "http://ca.test/int.der"},
               {"crl_url", "http://crl.test/int.crl"}};
  return {{"socket_path", "/run/e.sock"},
          {"allowed_peer_uids", {1000}},
          {"channel",
           {{"cert", "/c/e.crt"},
            {"key", "/c/e.key"},
            {"client_fingerprints", {std::string(64, 'A')}}}},
          {"hsm", {{"token_label", "ca"}, {"pin", "file:/etc/pin"}}},
          {"policy_store", "/var/lib/policy"},
          {"instances", {{"production", inst}}}};
}

TEST(EngineConfig, ParsesAValidFile) {
  auto c = ParseEngineConfig(Valid().dump());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->client_fingerprints[0], std::string(64, 'a'));
  const auto& prod = c->instances.at(engine::api::CaEnvironment::kProduction);
  EXPECT_EQ(prod.hsm.token_label, "ca");
  EXPECT_EQ(prod.chain, "/c/int.pem");
  EXPECT_FALSE(c->test_hooks);
}

void ExpectBad(const json& j, std::string_view fragment) {
  auto c = ParseEngineConfig(j.dump());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(c.error().message.find(fragment), std::string::npos) << c.error().message;
}

TEST(EngineConfig, CrlShards) {
  EXPECT_EQ(ParseEngineConfig(Valid().dump())->instances.begin()->second.crl_shards, 0u);
  json j = Valid();
  j["instances"]["production"]["crl_shards"] = 16;
  auto c = ParseEngineConfig(j.dump());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->instances.at(engine::api::CaEnvironment::kProduction).crl_shards, 16u);
  j["instances"]["production"]["crl_shards"] = 1025;
  ExpectBad(j, "crl_shards");
  j["instances"]["production"]["crl_shards"] = 4;
  j["instances"]["production"]["crl_url"] = "http://crl.test/int";
  ExpectBad(j, "config.instances.production.crl_url: must end in \".crl\"");
}

TEST(EngineConfig, RejectsDefects) {
  json j = Valid();
  j["surprise"] = 1;
  ExpectBad(j, "config: unknown field 'surprise'");
  j = Valid();
  j["allowed_peer_uids"] = json::array();
  ExpectBad(j, "allowed_peer_uids");
  j = Valid();
  j["hsm"]["pin"] = "1234";
  ExpectBad(j, "hsm.pin");
  j = Valid();
  j["channel"]["client_fingerprints"] = {"abc"};
  ExpectBad(j, "client_fingerprints");
  j = Valid();
  j["instances"]["production"].erase("crl_url");
  ExpectBad(j, "instances.production.crl_url: missing");
  j = Valid();
  j["instances"]["staging"] = j["instances"]["production"];
  ExpectBad(j, "never mixed with production");
}

// CA-8: the staging instance is per account unless "staging_access" opens it to all; production
// knows no such setting.
TEST(EngineConfig, StagingAccess) {
  json j = Valid();
  json staging = j["instances"]["production"];
  staging["store"] = "/s/ca-staging";
  staging["status_store"] = "/s/status-staging";
  staging["intermediate_cert"] = "/c/stg.pem";
  staging["intermediate_key_label"] = "stg";
  j["instances"]["staging"] = staging;
  auto c = ParseEngineConfig(j.dump());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_TRUE(c->instances.at(engine::api::CaEnvironment::kStaging).staging_grant_required);
  EXPECT_FALSE(c->instances.at(engine::api::CaEnvironment::kProduction).staging_grant_required);
  j["instances"]["staging"]["staging_access"] = "all";
  c = ParseEngineConfig(j.dump());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_FALSE(c->instances.at(engine::api::CaEnvironment::kStaging).staging_grant_required);
  j["instances"]["staging"]["staging_access"] = "nobody";
  ExpectBad(j, "config.instances.staging.staging_access: must be per-account or all");
  j["instances"]["staging"].erase("staging_access");
  j["instances"]["production"]["staging_access"] = "all";
  ExpectBad(j, "unknown field 'staging_access'");
}

TEST(EngineConfig, AuditAndMetricsFiles) {
  auto c = ParseEngineConfig(Valid().dump());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->audit_log, "");
  EXPECT_EQ(c->metrics_file, "");
  EXPECT_EQ(c->metrics_interval_seconds, 5);
  json j = Valid();
  j["audit_log"] = "/var/lib/acme-ca/audit/engine.jsonl";
  j["metrics_file"] = "/var/lib/acme-ca/metrics/engine.prom";
  j["metrics_interval_seconds"] = 2;
  c = ParseEngineConfig(j.dump());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->audit_log, "/var/lib/acme-ca/audit/engine.jsonl");
  EXPECT_EQ(c->metrics_file, "/var/lib/acme-ca/metrics/engine.prom");
  EXPECT_EQ(c->metrics_interval_seconds, 2);
  j["metrics_interval_seconds"] = 0;
  ExpectBad(j, "metrics_interval_seconds");
  j = Valid();
  j["audit_log"] = "";
  ExpectBad(j, "audit_log");
}

// Issue 20: the TCP listener for the peer node's gateway, with its own pins.
TEST(EngineConfig, PeerListen) {
  auto c = ParseEngineConfig(Valid().dump());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->peer_listen, "");
  EXPECT_TRUE(c->peer_client_fingerprints.empty());
  json j = Valid();
  const std::string fp(64, 'b');
  j["channel"]["peer_listen"] = "10.0.0.1:7443";
  j["channel"]["peer_client_fingerprints"] = {std::string(64, 'B')};
  c = ParseEngineConfig(j.dump());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->peer_listen, "10.0.0.1:7443");
  EXPECT_EQ(c->peer_client_fingerprints, std::vector<std::string>{fp});
  j["channel"]["peer_listen"] = "10.0.0.1";
  ExpectBad(j, "peer_listen");
  j["channel"]["peer_listen"] = "10.0.0.1:7443";
  j["channel"]["peer_client_fingerprints"] = json::array();
  ExpectBad(j, "peer_client_fingerprints");
  j["channel"]["peer_client_fingerprints"] = {"zz"};
  ExpectBad(j, "peer_client_fingerprints");
  j["channel"].erase("peer_listen");
  j["channel"]["peer_client_fingerprints"] = {fp};
  ExpectBad(j, "peer_client_fingerprints");
}

// Issue 20: the engine pair's settings, only with PostgreSQL stores (both of an instance).
TEST(EngineConfig, HaPairOnPostgresStores) {
  auto c = ParseEngineConfig(Valid().dump());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->ha.node_name, "");
  EXPECT_EQ(c->ha.lease_ttl_seconds, 10);
  json j = Valid();
  j["instances"]["production"]["store"] = "pg:acme-ca/ca_production";
  j["instances"]["production"]["status_store"] = "pg:acme-ca/status_production";
  j["ha"] = {{"node_name", "ca-2"}, {"lease_ttl_seconds", 6}};
  c = ParseEngineConfig(j.dump());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->ha.node_name, "ca-2");
  EXPECT_EQ(c->ha.lease_ttl_seconds, 6);
  EXPECT_EQ(c->instances.at(engine::api::CaEnvironment::kProduction).store,
            "pg:acme-ca/ca_production");
  j["ha"]["lease_ttl_seconds"] = 0;
  ExpectBad(j, "config.ha.lease_ttl_seconds");
  j["ha"] = {{"node_nam", "x"}};
  ExpectBad(j, "unknown field 'node_nam'");
  j = Valid();
  j["ha"] = {{"node_name", "ca-1"}};
  ExpectBad(j, "config.ha: an engine pair needs the instances' stores on PostgreSQL");
  j = Valid();
  j["instances"]["production"]["store"] = "pg:acme-ca/ca_production";
  ExpectBad(j,
            "config.instances.production.status_store: must be on PostgreSQL (pg:...) exactly when "
            "store is");
}

}  // namespace
}  // namespace ca::engine
