#include "engine/metrics.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/ca_instance.h"
#include "engine/recorder.h"

namespace ca::engine {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

TEST(EngineMetrics, RendersCountersHistogramAndCrlGauges) {
  EngineMetrics m;
  m.CountIssue("SSL", "issued");
  m.CountIssue("SSL", "issued");
  m.CountIssue("WILD", "policy_denied");
  m.CountIssue("NOPE", "issued");
  m.CountRevoked(1, 1);
  m.CountRevoked(9, 3);
  m.ObserveSign(SignerKey::kIssuer, 0.003, true);   // bucket 0.005
  m.ObserveSign(SignerKey::kIssuer, 0.0004, true);  // bucket 0.0005
  m.ObserveSign(SignerKey::kIssuer, 7.0, true);     // +Inf only
  m.ObserveSign(SignerKey::kIssuer, 0.1, false);
  m.ObserveSign(SignerKey::kOcsp, 0.001, true);
  std::vector<CrlGauge> crls = {{"production", "int-1", 42, 1000, 1000 + 86400, 7}};
  std::string text = m.Render(crls, 1600);

  EXPECT_TRUE(Has(text, "# TYPE acme_ca_engine_issuances_total counter")) << text;
  EXPECT_TRUE(Has(text, "acme_ca_engine_issuances_total{profile=\"SSL\",result=\"issued\"} 2"))
      << text;
  EXPECT_TRUE(
      Has(text, "acme_ca_engine_issuances_total{profile=\"WILD\",result=\"policy_denied\"} 1"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_issuances_total{profile=\"other\",result=\"issued\"} 1"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_issuances_total{profile=\"SSL_RGS\",result=\"issued\"} 0"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_issuances_total{profile=\"SSL_SHORT\",result=\"issued\"} 0"));
  EXPECT_EQ(text.find("profile=\"SSL\",result=\"bad_csr\""),
            std::string::npos);  // zero refusals omitted
  EXPECT_TRUE(Has(text, "acme_ca_engine_revocations_total{reason=\"keyCompromise\"} 1")) << text;
  EXPECT_TRUE(Has(text, "acme_ca_engine_revocations_total{reason=\"privilegeWithdrawn\"} 3"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_revocations_total{reason=\"unspecified\"} 0"));

  EXPECT_TRUE(Has(text, "# TYPE acme_ca_engine_hsm_sign_seconds histogram"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_hsm_sign_seconds_bucket{key=\"issuer\",le=\"0.0005\"} 1"))
      << text;
  EXPECT_TRUE(Has(text, "acme_ca_engine_hsm_sign_seconds_bucket{key=\"issuer\",le=\"0.002\"} 1"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_hsm_sign_seconds_bucket{key=\"issuer\",le=\"0.005\"} 2"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_hsm_sign_seconds_bucket{key=\"issuer\",le=\"2.5\"} 2"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_hsm_sign_seconds_bucket{key=\"issuer\",le=\"+Inf\"} 3"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_hsm_sign_seconds_count{key=\"issuer\"} 3"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_hsm_sign_seconds_sum{key=\"issuer\"} 7.0034"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_hsm_sign_errors_total{key=\"issuer\"} 1"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_hsm_sign_seconds_count{key=\"ocsp\"} 1"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_ocsp_responses_signed_total 1"));

  EXPECT_TRUE(
      Has(text, "acme_ca_engine_crl_number{environment=\"production\",issuer=\"int-1\"} 42"));
  EXPECT_TRUE(
      Has(text, "acme_ca_engine_crl_age_seconds{environment=\"production\",issuer=\"int-1\"} 600"));
  EXPECT_TRUE(Has(
      text,
      "acme_ca_engine_crl_next_update_seconds{environment=\"production\",issuer=\"int-1\"} 85800"));
  EXPECT_TRUE(
      Has(text, "acme_ca_engine_crl_entries{environment=\"production\",issuer=\"int-1\"} 7"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_metrics_time_seconds 1600"));
  EXPECT_TRUE(text.ends_with("\n"));
  // Every sample line is "name{labels} value" or "name value".
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("#")) continue;
    EXPECT_EQ(std::count(line.begin(), line.end(), ' '), 1) << line;
  }
}

class RecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/recorder_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<json> Entries() const {
    std::vector<json> out;
    std::ifstream in(dir_ + "/audit.jsonl");
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }
  std::string dir_;
};

TEST_F(RecorderTest, AuditsIssuanceRefusalRevocationAndWritesTheMetricsFile) {
  EngineMetrics metrics;
  auto audit = audit::AuditLog::Open(dir_ + "/audit.jsonl", "ca-engine");
  ASSERT_TRUE(audit);
  Recorder recorder(std::move(*audit), metrics, {dir_ + "/engine.prom", 1});

  engine::api::IssueRequest issue;
  issue.request_id = "req-1";
  issue.order_id = "order-1";
  issue.acme_account_id = "acct-1";
  issue.external_account_kid = "kid-1";
  issue.profile = "SSL";
  issue.names = {"a.demo.test"};
  engine::api::IssueResponse issued;
  issued.serial_hex = "0abc";
  issued.not_after = 2000000000;
  // The issuance pipeline writes the issued entry (IssuanceAudit); OnResponse counts it.
  CertRecord rec;
  rec.serial_hex = "0abc";
  rec.request_id = "req-1";
  rec.order_id = "order-1";
  rec.acme_account_id = "acct-1";
  rec.external_account_kid = "kid-1";
  rec.profile = "SSL";
  rec.names = {"a.demo.test"};
  rec.not_after = 2000000000;
  ASSERT_TRUE(recorder.Issued(engine::api::CaEnvironment::kProduction, rec, kByRequest));
  recorder.OnResponse(issue, issued);
  recorder.OnResponse(
      issue, engine::api::EngineError{engine::api::EngineErrorKind::kPolicyDenied, "DOMAIN_NOT_FOUND",
                                     "b.demo.test", "not allowed"});
  engine::api::RevokeRequest revoke;
  revoke.serial_hex = "0abc";
  revoke.reason = pki::RevocationReason::kKeyCompromise;
  revoke.actor = "cert-key";
  recorder.OnResponse(revoke, engine::api::RevokeResponse{true, 1900000000});
  engine::api::RevokeAllForAccountRequest all;
  all.acme_account_id = "acct-1";
  all.actor = "ra:alice";
  recorder.OnResponse(all, engine::api::RevokeAllForAccountResponse{2});
  recorder.OnResponse(engine::api::GetCertificateRequest{"0abc"},
                      engine::api::CertificateRecord{});  // not audited

  auto entries = Entries();
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0]["event"], "issued");
  EXPECT_EQ(entries[0]["serial"], "0abc");
  EXPECT_EQ(entries[0]["account"], "acct-1");
  EXPECT_EQ(entries[0]["order"], "order-1");
  EXPECT_EQ(entries[0]["result_code"], "OK");
  EXPECT_EQ(entries[0]["completed_by"], "request");
  EXPECT_EQ(entries[0]["writer"], "ca-engine");
  EXPECT_EQ(entries[1]["event"], "issue_refused");
  EXPECT_EQ(entries[1]["result"], "policy_denied");
  EXPECT_EQ(entries[1]["result_code"], "DOMAIN_NOT_FOUND");
  EXPECT_EQ(entries[2]["event"], "revoked");
  EXPECT_EQ(entries[2]["reason_name"], "keyCompromise");
  EXPECT_EQ(entries[2]["actor"], "cert-key");
  EXPECT_EQ(entries[3]["event"], "revoked_all_for_account");
  EXPECT_EQ(entries[3]["revoked_count"], 2);
  auto report = audit::VerifyFile(dir_ + "/audit.jsonl");
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok());

  recorder.OnTick({});  // interval 1: writes the file
  std::ifstream in(dir_ + "/engine.prom");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(
      Has(text.str(), "acme_ca_engine_issuances_total{profile=\"SSL\",result=\"issued\"} 1"))
      << text.str();
  EXPECT_TRUE(Has(text.str(),
                  "acme_ca_engine_issuances_total{profile=\"SSL\",result=\"policy_denied\"} 1"));
  EXPECT_TRUE(Has(text.str(), "acme_ca_engine_revocations_total{reason=\"keyCompromise\"} 1"));
  EXPECT_TRUE(Has(text.str(), "acme_ca_engine_revocations_total{reason=\"privilegeWithdrawn\"} 2"));
  EXPECT_TRUE(Has(text.str(), "acme_ca_engine_audit_entries_total{result=\"ok\"} 4"));
  EXPECT_FALSE(fs::exists(dir_ + "/engine.prom.tmp"));
  EXPECT_EQ(fs::status(dir_ + "/engine.prom").permissions() & fs::perms::others_read,
            fs::perms::others_read);
}

// Issue 20: the engine pair's state, by environment; absent on a single box.
TEST(EngineMetrics, RendersHaGaugesOnlyForAnEnginePair) {
  EngineMetrics m;
  EXPECT_EQ(m.Render({}, 1600).find("acme_ca_engine_ha_"), std::string::npos);
  std::vector<HaGauge> ha = {
      {"production", "engine-production", "ca-1", true, 3, 2, 1, 0, std::nullopt},
      {"staging", "engine-staging", "ca-1", false, 0, 0, 4, 1, std::nullopt}};
  std::string text = m.Render({}, 1600, ha);
  EXPECT_TRUE(Has(text, "# TYPE acme_ca_engine_ha_active gauge")) << text;
  EXPECT_TRUE(Has(text,
                  "acme_ca_engine_ha_active{environment=\"production\",lease=\"engine-production\","
                  "node=\"ca-1\"} 1"))
      << text;
  EXPECT_TRUE(Has(text,
                  "acme_ca_engine_ha_active{environment=\"staging\",lease=\"engine-staging\",node="
                  "\"ca-1\"} 0"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_ha_lease_epoch{environment=\"production\"} 3"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_ha_lease_epoch{environment=\"staging\"} 0"));
  EXPECT_TRUE(Has(text, "# TYPE acme_ca_engine_ha_takeovers_total counter"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_ha_takeovers_total{environment=\"production\"} 2"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_ha_lease_renew_failures_total{environment=\"staging\"} 4"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_ha_lease_losses_total{environment=\"staging\"} 1"));
  EXPECT_EQ(text.find("acme_ca_engine_db_"), std::string::npos);  // no probe yet
}

// The pair's database: what the primary says of its standbys while it answers; only that it does
// not once it stops answering (a stale standby list would hide the failover).
TEST(EngineMetrics, RendersTheDatabaseReplicationOfAnEnginePair) {
  EngineMetrics m;
  HaGauge production{"production", "engine-production", "ca-1", true, 3, 2, 0, 0, std::nullopt};
  production.db = ReplicationSnapshot{
      true,
      true,
      {true, {{"ca-2", "streaming", "sync", 0.25}, {"ca-3", "catchup", "async", 4}}},
      1};
  HaGauge staging{"staging", "engine-staging", "ca-1", true, 1, 1, 0, 0, std::nullopt};
  staging.db = ReplicationSnapshot{true, false, {true, {{"ca-2", "streaming", "sync", 0}}}, 7};
  std::string text = m.Render({}, 1600, {production, staging});
  EXPECT_TRUE(Has(text, "acme_ca_engine_db_primary_up{environment=\"production\"} 1")) << text;
  EXPECT_TRUE(Has(text, "acme_ca_engine_db_primary_up{environment=\"staging\"} 0"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_db_probe_failures_total{environment=\"staging\"} 7"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_db_sync_commit{environment=\"production\"} 1"));
  EXPECT_TRUE(Has(text, "acme_ca_engine_db_sync_standbys{environment=\"production\"} 1"));
  EXPECT_TRUE(Has(text,
                  "acme_ca_engine_db_standby_replay_lag_seconds{environment=\"production\",standby="
                  "\"ca-2\",state=\"streaming\",sync_state=\"sync\"} 0.25"));
  EXPECT_TRUE(Has(text,
                  "acme_ca_engine_db_standby_replay_lag_seconds{environment=\"production\",standby="
                  "\"ca-3\",state=\"catchup\",sync_state=\"async\"} 4"));
  EXPECT_FALSE(Has(text, "acme_ca_engine_db_sync_commit{environment=\"staging\"}"));
  EXPECT_FALSE(Has(text, "acme_ca_engine_db_sync_standbys{environment=\"staging\"}"));
}

}  // namespace
}  // namespace ca::engine
