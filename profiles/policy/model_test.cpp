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
