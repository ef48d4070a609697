#include "reports/schedule.h"

#include <gtest/gtest.h>

#include "pki/time.h"

namespace ca::reports {
namespace {

using profiles::policy::ReportPeriod;

int64_t T(const char* rfc3339) {
  return pki::ToUnix(*pki::ParseRfc3339(rfc3339));
}

TEST(Schedule, WeeksStartOnMondayUtc) {
  // 2026-12-02 is a Wednesday.
  Period p = PeriodContaining(ReportPeriod::kWeekly, T("2026-12-02T13:00:00Z"));
  EXPECT_EQ(p.since, T("2026-11-30T00:00:00Z"));
  EXPECT_EQ(p.until, T("2026-12-06T23:59:59Z"));
  EXPECT_EQ(PeriodContaining(ReportPeriod::kWeekly, T("2026-11-30T00:00:00Z")), p);
  EXPECT_EQ(PeriodContaining(ReportPeriod::kWeekly, T("2026-12-06T23:59:59Z")), p);
  EXPECT_EQ(LatestCompletePeriod(ReportPeriod::kWeekly, T("2026-12-07T00:00:00Z")), p);
  EXPECT_EQ(LatestCompletePeriod(ReportPeriod::kWeekly, T("2026-12-06T23:59:59Z")).until,
            T("2026-11-29T23:59:59Z"));
  EXPECT_EQ(UtcDate(p.since), "2026-11-30");
}

TEST(Schedule, MonthsAreCalendarMonths) {
  Period feb = PeriodContaining(ReportPeriod::kMonthly, T("2028-02-15T08:00:00Z"));
  EXPECT_EQ(feb.since, T("2028-02-01T00:00:00Z"));
  EXPECT_EQ(feb.until, T("2028-02-29T23:59:59Z"));  // leap year
  Period dec = LatestCompletePeriod(ReportPeriod::kMonthly, T("2027-01-01T00:00:00Z"));
  EXPECT_EQ(dec.since, T("2026-12-01T00:00:00Z"));
  EXPECT_EQ(dec.until, T("2026-12-31T23:59:59Z"));
}

TEST(Schedule, OnlyTheLatestCompletePeriodNotYetSentIsDue) {
  int64_t created = T("2026-11-25T10:00:00Z");  // a Wednesday, mid-week
  // During the week it was created in: nothing (the period has not ended).
  EXPECT_FALSE(DuePeriod(ReportPeriod::kWeekly, created, std::nullopt, T("2026-11-29T12:00:00Z")));
  // At the end of that week: its first report covers that week.
  auto first = DuePeriod(ReportPeriod::kWeekly, created, std::nullopt, T("2026-11-30T00:00:01Z"));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->since, T("2026-11-23T00:00:00Z"));
  // Sent: not again that week.
  EXPECT_FALSE(DuePeriod(ReportPeriod::kWeekly, created, first->until, T("2026-12-03T00:00:00Z")));
  // Three weeks missed: only the latest one.
  auto late = DuePeriod(ReportPeriod::kWeekly, created, first->until, T("2026-12-23T00:00:00Z"));
  ASSERT_TRUE(late);
  EXPECT_EQ(late->since, T("2026-12-14T00:00:00Z"));
  EXPECT_FALSE(DuePeriod(ReportPeriod::kOff, created, std::nullopt, T("2027-01-01T00:00:00Z")));
  auto monthly =
      DuePeriod(ReportPeriod::kMonthly, created, std::nullopt, T("2026-12-02T00:00:00Z"));
  ASSERT_TRUE(monthly);
  EXPECT_EQ(monthly->since, T("2026-11-01T00:00:00Z"));
}

}  // namespace
}  // namespace ca::reports
