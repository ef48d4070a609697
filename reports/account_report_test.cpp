#include "reports/account_report.h"

#include <gtest/gtest.h>

namespace ca::reports {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kSince = 1'700'000'000;
constexpr int64_t kUntil = kSince + 7 * kDay;

CertificateEntry Cert(std::string serial, std::vector<std::string> names, int64_t issued_at,
                      int64_t not_after, std::string profile = "SSL") {
  CertificateEntry c;
  c.environment = "production";
  c.serial_hex = std::move(serial);
  c.external_account_kid = "kid";
  c.profile = std::move(profile);
  c.names = std::move(names);
  c.issued_at = issued_at;
  c.not_before = issued_at;
  c.not_after = not_after;
  return c;
}

void Revoke(CertificateEntry& c, int64_t at, std::string reason) {
  c.revoked = true;
  c.revoked_at = at;
  c.reason = reason == "keyCompromise" ? 1 : 4;
  c.reason_name = std::move(reason);
}

TEST(AccountReport, CountsWithInclusiveBoundaries) {
  AccountHistory h;
  h.kid = "kid";
  h.certificates.push_back(Cert("01", {"old.example.com"}, kSince - 1, kUntil + 100 * kDay));
  h.certificates.push_back(Cert("02", {"a.example.com"}, kSince, kUntil + 100 * kDay, "SSL_RGS"));
  h.certificates.push_back(Cert("03", {"b.example.com"}, kUntil, kUntil + 100 * kDay));
  h.certificates.push_back(Cert("04", {"c.example.com"}, kUntil + 1, kUntil + 100 * kDay));
  Revoke(h.certificates[0], kSince, "keyCompromise");  // revoked on the first second
  Revoke(h.certificates[1], kUntil + 1, "superseded");  // after the period: still valid at until
  h.failures.push_back({.at = kSince - 1, .kind = FailureKind::kValidation});
  h.failures.push_back({.at = kSince, .kind = FailureKind::kValidation});
  h.failures.push_back({.at = kUntil, .kind = FailureKind::kRateLimited});
  h.failures.push_back({.at = kUntil, .kind = FailureKind::kRefused});
  h.changes.push_back({.at = kSince, .action = "domain.add"});
  h.changes.push_back({.at = kUntil + 1, .action = "domain.remove"});

  AccountSummary s;
  s.kid = "kid";
  AccountReport r = BuildAccountReport(h, s, kSince, kUntil, kUntil + 5);
  EXPECT_EQ(r.account.kid, "kid");
  EXPECT_EQ(r.generated_at, kUntil + 5);
  EXPECT_EQ(r.issued, 2u);  // 02 and 03: both ends inclusive
  EXPECT_EQ(r.issued_by_profile, (std::map<std::string, size_t>{{"SSL", 1}, {"SSL_RGS", 1}}));
  ASSERT_EQ(r.issued_in_period.size(), 2u);
  EXPECT_EQ(r.issued_in_period[0].serial_hex, "02");
  EXPECT_EQ(r.revoked, 1u);
  EXPECT_EQ(r.revoked_by_reason, (std::map<std::string, size_t>{{"keyCompromise", 1}}));
  EXPECT_EQ(r.revoked_in_period[0].serial_hex, "01");
  EXPECT_EQ(r.valid_now, 2u);  // 02 (revoked only later) and 03; 04 is not issued yet
  EXPECT_EQ(r.failures.size(), 3u);
  EXPECT_EQ(r.validation_failures, 1u);
  EXPECT_EQ(r.rate_limit_refusals, 1u);
  EXPECT_EQ(r.other_refusals, 1u);
  ASSERT_EQ(r.changes.size(), 1u);
  EXPECT_EQ(r.changes[0].action, "domain.add");
  EXPECT_TRUE(r.expiring_soon.empty());
}

TEST(AccountReport, ExpiringSoonSkipsRenewedCertificates) {
  AccountHistory h;
  // Expires 10 days after the period, renewed by 06 (same names, in another order originally).
  h.certificates.push_back(Cert("05", {"a.example.com", "b.example.com"}, kSince - 80 * kDay,
                                kUntil + 10 * kDay));
  h.certificates.push_back(Cert("06", {"a.example.com", "b.example.com"}, kSince + kDay,
                                kSince + 90 * kDay));
  // Expires within 30 days; its "renewal" covers other names.
  h.certificates.push_back(Cert("07", {"c.example.com"}, kSince - 80 * kDay, kUntil + 30 * kDay));
  h.certificates.push_back(Cert("08", {"c.example.com", "d.example.com"}, kSince + kDay,
                                kSince + 90 * kDay));
  // Expires in 31 days: not yet expiring.
  h.certificates.push_back(Cert("09", {"e.example.com"}, kSince - 80 * kDay, kUntil + 31 * kDay));
  // Renewed, but the renewal was revoked: still expiring.
  h.certificates.push_back(Cert("10", {"f.example.com"}, kSince - 80 * kDay, kUntil + 5 * kDay));
  h.certificates.push_back(Cert("11", {"f.example.com"}, kSince + kDay, kSince + 90 * kDay));
  Revoke(h.certificates.back(), kSince + 2 * kDay, "keyCompromise");

  EXPECT_TRUE(IsRenewed(h.certificates[0], h));
  EXPECT_FALSE(IsRenewed(h.certificates[1], h));  // the renewal itself
  EXPECT_FALSE(IsRenewed(h.certificates[2], h));
  EXPECT_FALSE(IsRenewed(h.certificates[5], h));

  AccountReport r = BuildAccountReport(h, {}, kSince, kUntil, kUntil);
  std::vector<std::string> expiring;
  for (const auto& c : r.expiring_soon) expiring.push_back(c.serial_hex);
  EXPECT_EQ(expiring, (std::vector<std::string>{"07", "10"}));
  EXPECT_EQ(r.valid_now, 6u);
}

TEST(AccountReport, StagingIsNotARenewalOfProduction) {
  AccountHistory h;
  h.certificates.push_back(Cert("01", {"a.example.com"}, kSince - 80 * kDay, kUntil + kDay));
  h.certificates.push_back(Cert("02", {"a.example.com"}, kSince, kSince + 90 * kDay));
  h.certificates.back().environment = "staging";
  EXPECT_FALSE(IsRenewed(h.certificates[0], h));
}

TEST(AccountReport, StagingIsReportedApartFromProductionCounts) {
  AccountHistory h;
  h.certificates.push_back(Cert("01", {"a.example.com"}, kSince + kDay, kUntil + 90 * kDay));
  h.certificates.push_back(Cert("02", {"a.example.com"}, kSince + kDay, kUntil + 10 * kDay));
  h.certificates.back().environment = "staging";
  h.certificates.push_back(Cert("03", {"b.example.com"}, kSince + kDay, kUntil + 90 * kDay));
  h.certificates.back().environment = "staging";
  Revoke(h.certificates.back(), kSince + 2 * kDay, "superseded");
  FailureEntry prod, stg;
  prod.at = stg.at = kSince + kDay;
  prod.environment = "production";
  prod.kind = FailureKind::kValidation;
  stg.environment = "staging";
  stg.kind = FailureKind::kRateLimited;
  h.failures = {prod, stg};
  auto r = BuildAccountReport(h, {}, kSince, kUntil, kUntil);
  // Production: the one production certificate, its one failure; no staging certificate is
  // counted, listed as production's or expiring.
  EXPECT_EQ(r.issued, 1u);
  EXPECT_EQ(r.revoked, 0u);
  EXPECT_EQ(r.valid_now, 1u);
  EXPECT_EQ(r.issued_by_profile.at("SSL"), 1u);
  ASSERT_EQ(r.issued_in_period.size(), 1u);
  EXPECT_EQ(r.issued_in_period[0].serial_hex, "01");
  EXPECT_TRUE(r.expiring_soon.empty());  // 02 expires within 30 days but is staging's
  EXPECT_EQ(r.validation_failures, 1u);
  EXPECT_EQ(r.rate_limit_refusals, 0u);
  // Staging, apart.
  EXPECT_TRUE(r.staging.Any());
  EXPECT_EQ(r.staging.issued, 2u);
  EXPECT_EQ(r.staging.revoked, 1u);
  EXPECT_EQ(r.staging.valid_now, 1u);
  EXPECT_EQ(r.staging.failures, 1u);
  ASSERT_EQ(r.staging.revoked_in_period.size(), 1u);
  EXPECT_EQ(r.staging.revoked_in_period[0].serial_hex, "03");
  EXPECT_EQ(r.failures.size(), 2u);  // both listed, each with its environment
}

}  // namespace
}  // namespace ca::reports
