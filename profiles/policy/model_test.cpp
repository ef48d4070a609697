#include "profiles/policy/model.h"

#include <gtest/gtest.h>

namespace ca::profiles::policy {
namespace {

TEST(Model, TimeParsing) {
  EXPECT_EQ(*ParseTime("1970-01-02"), 86400);
  EXPECT_EQ(*ParseTime("2026-11-23T02:33:34Z"), *ParseTime("@1795401214"));
  EXPECT_EQ(FormatTime(1795401214), "2026-11-23T02:33:34Z");
  EXPECT_FALSE(ParseTime("2026-02-30"));
  EXPECT_FALSE(ParseTime("yesterday"));
  EXPECT_FALSE(ParseTime("@12x"));
  EXPECT_EQ(AddYears(*ParseTime("2024-01-15"), 3), *ParseTime("2027-01-15"));
}

TEST(Model, ExternalAccountJsonRoundTrip) {
  ExternalAccount a;
  a.kid = "k";
  a.organization_id = "o";
  a.contacts = {"Jane"};
  a.not_before = 10;
  a.not_after = 20;
  a.allowed_profiles = {ProfileId::kWild, ProfileId::kSsl};
  a.allowed_challenges = {"dns-01"};
  a.status = ExternalAccountStatus::kSuspended;
  a.mac_regenerations = 2;
  a.mac_wrapped = "abc";
  auto back = ExternalAccountFromJson(ToJson(a).dump());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->allowed_profiles, a.allowed_profiles);
  EXPECT_EQ(back->status, ExternalAccountStatus::kSuspended);
  EXPECT_EQ(back->mac_regenerations, 2u);
  EXPECT_EQ(back->DisplayStatus(30), "suspended");
  back->status = ExternalAccountStatus::kActive;
  EXPECT_EQ(back->DisplayStatus(20), "active");
  EXPECT_EQ(back->DisplayStatus(21), "expired");
  EXPECT_FALSE(ToPublicJson(a, 0).contains("mac_wrapped"));
  auto bad = ExternalAccountFromJson("{\"kid\":1}");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kCorrupt);
}

TEST(Model, ExternalAccountMacRotationRoundTripAndOlderRecords) {
  ExternalAccount a;
  a.kid = "k";
  a.organization_id = "o";
  a.contacts = {"Jane"};
  a.mac_rotation = {.key_issued_at = 7,
                    .period_days = 90,
                    .recipient_key_pem = "PEM",
                    .announced_at = 9,
                    .undelivered = "sealed"};
  auto back = ExternalAccountFromJson(ToJson(a).dump());
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->mac_rotation.key_issued_at, 7);
  EXPECT_EQ(back->mac_rotation.period_days, 90u);
  EXPECT_EQ(back->mac_rotation.recipient_key_pem, "PEM");
  EXPECT_EQ(back->mac_rotation.announced_at, 9);
  EXPECT_EQ(back->mac_rotation.undelivered, "sealed");
  // The public form (ca-ra --json, audit records) says whether, not what.
  auto pub = ToPublicJson(a, 0)["mac_rotation"];
  EXPECT_EQ(pub["recipient_key"], true);
  EXPECT_EQ(pub["delivery_pending"], true);
  EXPECT_FALSE(pub.contains("recipient_key_pem"));
  EXPECT_FALSE(pub.contains("undelivered"));
  // No period of its own: absent, the RA's default applies; a record from before rotation parses.
  a.mac_rotation.period_days.reset();
  EXPECT_FALSE(ToJson(a)["mac_rotation"].contains("period_days"));
  EXPECT_FALSE(ExternalAccountFromJson(ToJson(a).dump())->mac_rotation.period_days);
  auto older = ToJson(a);
  older.erase("mac_rotation");
  auto old_back = ExternalAccountFromJson(older.dump());
  ASSERT_TRUE(old_back);
  EXPECT_EQ(old_back->mac_rotation.key_issued_at, 0);
  EXPECT_TRUE(old_back->mac_rotation.recipient_key_pem.empty());
}

TEST(Model, ExternalAccountReportPeriod) {
  ExternalAccount a;
  a.kid = "k";
  a.organization_id = "o";
  a.contacts = {"Jane <jane@corp.example>"};
  EXPECT_EQ(a.report_period, ReportPeriod::kWeekly);
  a.report_period = ReportPeriod::kMonthly;
  auto back = ExternalAccountFromJson(ToJson(a).dump());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->report_period, ReportPeriod::kMonthly);
  // A record stored before the field existed reads as weekly.
  auto old = ToJson(a);
  old.erase("report_period");
  auto older = ExternalAccountFromJson(old.dump());
  ASSERT_TRUE(older);
  EXPECT_EQ(older->report_period, ReportPeriod::kWeekly);
  old["report_period"] = "daily";
  EXPECT_FALSE(ExternalAccountFromJson(old.dump()));
  EXPECT_EQ(ParseReportPeriod("off"), ReportPeriod::kOff);
  EXPECT_EQ(ReportPeriodName(ReportPeriod::kMonthly), "monthly");
}

// The staging grant (CA-8): stored, shown, and false in records stored before it existed.
TEST(Model, ExternalAccountStagingGrant) {
  ExternalAccount a;
  a.kid = "k";
  a.organization_id = "o";
  a.contacts = {"Jane <jane@corp.example>"};
  EXPECT_FALSE(a.staging);
  a.staging = true;
  auto back = ExternalAccountFromJson(ToJson(a).dump());
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->staging);
  EXPECT_EQ(ToPublicJson(a, 0)["staging"], true);
  auto old = ToJson(a);
  old.erase("staging");
  auto older = ExternalAccountFromJson(old.dump());
  ASSERT_TRUE(older);
  EXPECT_FALSE(older->staging);
  old["staging"] = "yes";
  EXPECT_FALSE(ExternalAccountFromJson(old.dump()));
}

}  // namespace
}  // namespace ca::profiles::policy
