// End to end: the real ca-engine with an audit file and a metrics file. Issuance (sign intent and
// issued entry) and revocation reach the hash-chained audit file (which verifies, and continues
// across a restart), and the metrics file shows the issuance count, the revocation and a non-empty
// HSM latency histogram.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "common/audit_log.h"
#include "common/openssl.h"
#include "engine/testing/engine_process.h"
#include "engine/testing/process_checks.h"
#include "profiles/policy/admin/admin.h"

namespace ca::engine {
namespace {

using engine::api::IssueResponse;
using nlohmann::json;
using testing::EngineSetup;
using testing::ReadText;
using testing::PrometheusSample;

// Waits until the metrics file shows `series` >= `at_least` (it is rewritten every second).
std::string WaitForMetric(const std::string& path, const std::string& series, double at_least) {
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text = ReadText(path);
    if (PrometheusSample(text, series) >= at_least) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return text;
}

std::vector<json> AuditEntries(const std::string& path) {
  std::vector<json> out;
  std::istringstream in(ReadText(path));
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

TEST(EngineObservabilityE2E, AuditFileAndMetricsFile) {
  auto setup = EngineSetup::Create(CA_ENGINE_BIN);
  ASSERT_TRUE(setup) << setup.error().ToString();
  const auto& dir = (*setup)->dir();
  std::string audit_path = dir.Sub("audit.jsonl"), metrics_path = dir.Sub("engine.prom");
  {
    json config = json::parse(ReadText(dir.Sub("engine.json")));
    config["audit_log"] = audit_path;
    config["metrics_file"] = metrics_path;
    config["metrics_interval_seconds"] = 1;
    ASSERT_TRUE(ossl::WriteFileAtomic(dir.Sub("engine.json"), config.dump(2), 0600, true));
  }
  ASSERT_TRUE((*setup)->Start());
  auto client = (*setup)->Client();
  ASSERT_TRUE(client);
  std::vector<std::string> serials;
  for (int i = 0; i < 3; ++i) {
    auto key = testing::FreshRsaKey();
    auto req = testing::MakeIssueRequest("obs-" + std::to_string(i), (*setup)->kid(),
                                         {"obs" + std::to_string(i) + ".example.fr"}, key.get());
    auto resp = client->Issue(req);
    ASSERT_TRUE(resp) << resp.error().ToString() << ReadText((*setup)->log_path());
    ASSERT_TRUE(std::holds_alternative<IssueResponse>(*resp))
        << engine::api::ResponseToJson(*resp).dump();
    serials.push_back(std::get<IssueResponse>(*resp).serial_hex);
  }
  engine::api::RevokeRequest revoke;
  revoke.serial_hex = serials[1];
  revoke.reason = pki::RevocationReason::kSuperseded;
  revoke.actor = "acme-account:acct-1";
  auto revoked = client->Revoke(revoke);
  ASSERT_TRUE(revoked && std::holds_alternative<engine::api::RevokeResponse>(*revoked));

  std::string metrics =
      WaitForMetric(metrics_path, "acme_ca_engine_revocations_total{reason=\"superseded\"}", 1);
  EXPECT_EQ(PrometheusSample(metrics, "acme_ca_engine_issuances_total{profile=\"SSL\",result=\"issued\"}"), 3)
      << metrics;
  EXPECT_EQ(PrometheusSample(metrics, "acme_ca_engine_revocations_total{reason=\"superseded\"}"), 1)
      << metrics;
  EXPECT_GE(PrometheusSample(metrics, "acme_ca_engine_hsm_sign_seconds_count{key=\"issuer\"}"), 3) << metrics;
  EXPECT_GE(PrometheusSample(metrics, "acme_ca_engine_hsm_sign_seconds_bucket{key=\"issuer\",le=\"+Inf\"}"),
            3);
  EXPECT_GT(PrometheusSample(metrics, "acme_ca_engine_hsm_sign_seconds_sum{key=\"issuer\"}"), 0);
  EXPECT_GE(PrometheusSample(metrics, "acme_ca_engine_ocsp_responses_signed_total"),
            4);  // 3 good + 1 revoked
  // Each issuance: sign_intent then issued; then the revocation.
  EXPECT_EQ(PrometheusSample(metrics, "acme_ca_engine_audit_entries_total{result=\"ok\"}"), 7);
  EXPECT_EQ(PrometheusSample(metrics, "acme_ca_engine_audit_entries_total{result=\"failed\"}"), 0);

  // The RA revokes the ACME account: the engine applies the mass revocation within a second or two,
  // and audits it with the serials it revoked (the two still valid).
  auto& world = (*setup)->world();
  auto mass = profiles::policy::admin::AcmeAccountLifecycle({world.store.get(), "ra-operator", world.now},
                                           {"acct-1", world.kid, profiles::policy::ProfileId::kSsl},
                                           profiles::policy::admin::AccountAction::kRevoke, 9);
  ASSERT_TRUE(mass) << mass.error().ToString();
  metrics = WaitForMetric(metrics_path,
                          "acme_ca_engine_revocations_total{reason=\"privilegeWithdrawn\"}", 2);
  EXPECT_EQ(PrometheusSample(metrics, "acme_ca_engine_revocations_total{reason=\"privilegeWithdrawn\"}"), 2)
      << metrics;

  EXPECT_EQ((*setup)->Stop(), 0);
  auto entries = AuditEntries(audit_path);
  ASSERT_EQ(entries.size(), 8u);
  for (int i = 0; i < 3; ++i) {
    // The intent to sign, durable before the HSM signed, then the issued entry.
    EXPECT_EQ(entries[2 * i]["event"], "sign_intent");
    EXPECT_EQ(entries[2 * i]["serial"], serials[i]);
    EXPECT_EQ(entries[2 * i]["completed_by"], "request");
  }
  for (int i = 2; i >= 0; --i) entries.erase(entries.begin() + 2 * i);  // the intents checked
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(entries[i]["event"], "issued");
    EXPECT_EQ(entries[i]["completed_by"], "request");
    EXPECT_EQ(entries[i]["serial"], serials[i]);
    EXPECT_EQ(entries[i]["account"], "acct-1");
    EXPECT_EQ(entries[i]["order"], "order-obs-" + std::to_string(i));
    EXPECT_EQ(entries[i]["result_code"], "OK");
    EXPECT_EQ(entries[i]["writer"], "ca-engine");
  }
  EXPECT_EQ(entries[3]["event"], "revoked");
  EXPECT_EQ(entries[3]["serial"], serials[1]);
  EXPECT_EQ(entries[3]["reason_name"], "superseded");
  EXPECT_EQ(entries[3]["actor"], "acme-account:acct-1");
  EXPECT_EQ(entries[4]["event"], "mass_revocation_applied");
  EXPECT_EQ(entries[4]["acme_account_id"], "acct-1");
  EXPECT_EQ(entries[4]["actor"], "ra-operator");
  EXPECT_EQ(entries[4]["reason_name"], "privilegeWithdrawn");
  EXPECT_EQ(entries[4]["revoked_count"], 2);
  std::vector<std::string> mass_serials = entries[4]["revoked"];
  std::sort(mass_serials.begin(), mass_serials.end());
  std::vector<std::string> expected = {serials[0], serials[2]};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(mass_serials, expected);

  // A restart continues the chain (here with a refusal: the account is revoked); the whole file
  // verifies.
  ASSERT_TRUE((*setup)->Start());
  auto again = (*setup)->Client();
  ASSERT_TRUE(again);
  auto key = testing::FreshRsaKey();
  auto resp = again->Issue(
      testing::MakeIssueRequest("obs-after", (*setup)->kid(), {"after.example.fr"}, key.get()));
  ASSERT_TRUE(resp && std::holds_alternative<engine::api::EngineError>(*resp));
  EXPECT_EQ((*setup)->Stop(), 0);
  entries = AuditEntries(audit_path);
  ASSERT_EQ(entries.size(), 9u);
  EXPECT_EQ(entries[8]["event"], "issue_refused");
  EXPECT_EQ(entries[8]["result"], "policy_denied");
  EXPECT_EQ(entries[8]["request_id"], "obs-after");
  EXPECT_EQ(entries[8]["seq"], 9);
  EXPECT_EQ(entries[8]["prev"], entries[7]["hash"]);
  auto report = audit::VerifyFile(audit_path);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok()) << report->problems.front().line << ": "
                            << report->problems.front().what;
  EXPECT_EQ(report->entries, 9u);
  EXPECT_EQ(report->last_seq, 9u);

  // A torn last line (as a crash mid-write leaves): the engine cuts it, says so and starts
  // (engine_audit_e2e_test covers it in full).
  std::string text = ReadText(audit_path);
  ASSERT_TRUE(ossl::WriteFileAtomic(audit_path, text.substr(0, text.size() - 5), 0600, true));
  ASSERT_TRUE((*setup)->Start());
  EXPECT_EQ((*setup)->Stop(), 0);
  std::string log = ReadText((*setup)->log_path());
  EXPECT_NE(log.find("audit_tail_repaired"), std::string::npos) << log;
  report = audit::VerifyFile(audit_path);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok());
}

}  // namespace
}  // namespace ca::engine
