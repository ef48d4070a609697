#include "dashboard/views.h"

#include <gtest/gtest.h>

namespace ca::dashboard {
namespace {

constexpr int64_t kNow = 1'764'633'600 + 12 * 3600;  // 2025-12-02T12:00:00Z

reports::CertificateEntry Cert(std::string serial, std::vector<std::string> names, int64_t issued,
                               int64_t not_after) {
  reports::CertificateEntry c;
  c.serial_hex = std::move(serial);
  c.names = std::move(names);
  c.profile = "SSL";
  c.environment = "production";
  c.external_account_kid = "kid-a";
  c.issued_at = issued;
  c.not_before = issued;
  c.not_after = not_after;
  return c;
}

reports::AccountHistory History() {
  reports::AccountHistory h;
  h.kid = "kid-a";
  h.certificates.push_back(Cert("0a01", {"a.demo.test"}, kNow - 86400, kNow + 90 * 86400));
  h.certificates.push_back(Cert("0a02", {"b.demo.test", "c.demo.test"}, kNow - 3600,
                                kNow + 10 * 86400));  // expiring within 30 days
  auto revoked = Cert("0a03", {"<x>.demo.test"}, kNow - 2 * 86400, kNow + 90 * 86400);
  revoked.revoked = true;
  revoked.revoked_at = kNow - 60;
  revoked.reason_name = "keyCompromise";
  h.certificates.push_back(revoked);
  h.certificates.push_back(Cert("0a04", {"old.demo.test"}, kNow - 400 * 86400, kNow - 86400));
  reports::FailureEntry f;
  f.at = kNow - 100;
  f.kind = reports::FailureKind::kValidation;
  f.name = "d.demo.test";
  f.challenge = "http-01";
  f.result_code = "ACME_HTTP_CHALLENGE_FAILED";
  h.failures.push_back(f);
  reports::ChangeEntry ch;
  ch.at = kNow - 50;
  ch.actor = "ra";
  ch.action = "domain.add";
  ch.object_type = "domain";
  ch.object_id = "e.demo.test";
  ch.after = {{"status", "pending"}};
  h.changes.push_back(ch);
  return h;
}

TEST(Views, CountsAndLists) {
  AccountPolicyView policy{"Org A", "active", {{"demo.test", "valid"}}};
  auto j = AccountViewJson(History(), policy, kNow, "");
  EXPECT_EQ(j["kid"], "kid-a");
  EXPECT_EQ(j["organization"], "Org A");
  EXPECT_EQ(j["counts"]["issued"], 4);
  EXPECT_EQ(j["counts"]["revoked"], 1);
  EXPECT_EQ(j["counts"]["valid"], 2);
  EXPECT_EQ(j["counts"]["expiring_30d"], 1);
  ASSERT_EQ(j["certificates"].size(), 4u);
  EXPECT_EQ(j["certificates"][0]["serial"], "0a04");  // newest first
  EXPECT_EQ(j["certificates"][0]["status"], "expired");
  EXPECT_EQ(j["certificates"][1]["status"], "revoked");
  EXPECT_EQ(j["certificates"][1]["reason_name"], "keyCompromise");
  EXPECT_EQ(j["domains"][0]["fqdn"], "demo.test");
  EXPECT_EQ(j["domains"][0]["status"], "valid");
  EXPECT_EQ(j["failures"][0]["result_code"], "ACME_HTTP_CHALLENGE_FAILED");
  EXPECT_EQ(j["failures"][0]["kind"], "validation");
  EXPECT_EQ(j["changes"][0]["action"], "domain.add");
  EXPECT_EQ(j["daily"].size(), size_t(kChartDays));
  EXPECT_EQ(j["daily"].back()["day"], "2025-12-02");
}

TEST(Views, SearchFiltersCertificatesNotCounts) {
  AccountPolicyView policy{"Org A", "active", {}};
  auto j = AccountViewJson(History(), policy, kNow, "C.DEMO");
  ASSERT_EQ(j["certificates"].size(), 1u);
  EXPECT_EQ(j["certificates"][0]["serial"], "0a02");
  EXPECT_EQ(j["counts"]["issued"], 4);
  EXPECT_EQ(AccountViewJson(History(), policy, kNow, "0a03")["certificates"].size(), 1u);
  EXPECT_EQ(AccountViewJson(History(), policy, kNow, "nothing")["certificates"].size(), 0u);
}

TEST(Views, StagingCertificatesAreListedAndCountedApart) {
  auto h = History();
  h.certificates.push_back(Cert("0b01", {"a.demo.test"}, kNow - 60, kNow + 10 * 86400));
  h.certificates.back().environment = "staging";
  AccountPolicyView policy{"Org A", "active", {}};
  auto j = AccountViewJson(h, policy, kNow, "");
  EXPECT_EQ(j["counts"]["issued"], 4);  // production's, as without it
  EXPECT_EQ(j["counts"]["valid"], 2);
  EXPECT_EQ(j["counts"]["expiring_30d"], 1);
  EXPECT_EQ(j["staging_counts"]["issued"], 1);
  EXPECT_EQ(j["staging_counts"]["valid"], 1);
  EXPECT_EQ(j["staging_counts"]["revoked"], 0);
  ASSERT_EQ(j["certificates"].size(), 5u);
  EXPECT_EQ(j["certificates"][0]["serial"], "0b01");
  EXPECT_EQ(j["certificates"][0]["environment"], "staging");
  size_t today = 0;
  for (const auto& d : DailyCounts(h, kNow, 30)) today += d.issued;
  EXPECT_EQ(today, 3u);  // the chart is production's
}

TEST(Views, DailyCounts) {
  auto days = DailyCounts(History(), kNow, 30);
  ASSERT_EQ(days.size(), 30u);
  EXPECT_EQ(days[29].day, "2025-12-02");
  EXPECT_EQ(days[29].issued, 1u);   // 0a02
  EXPECT_EQ(days[29].revoked, 1u);  // 0a03
  EXPECT_EQ(days[28].issued, 1u);   // 0a01
  EXPECT_EQ(days[27].issued, 1u);   // 0a03
  size_t total = 0;
  for (const auto& d : days) total += d.issued;
  EXPECT_EQ(total, 3u);  // 0a04 is older than the chart
}

TEST(Views, ChartIsSvgWithOneBarPerNonZeroCount) {
  auto svg = ChartSvg(DailyCounts(History(), kNow, 30));
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  auto count = [&](std::string_view needle) {
    size_t n = 0;
    for (size_t at = svg.find(needle); at != std::string::npos; at = svg.find(needle, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("class=\"issued\""), 3u);
  EXPECT_EQ(count("class=\"revoked\""), 1u);
  EXPECT_NE(svg.find("2025-12-02 revoked: 1"), std::string::npos);
}

}  // namespace
}  // namespace ca::dashboard
