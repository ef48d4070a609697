#include "gateway/renewal_window.h"

#include <gtest/gtest.h>

namespace ca::gateway {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kNotBefore = 1'000'000;

// notAfter of a certificate of `days` inclusive days (RFC 5280: notBefore + length − 1 s).
int64_t NotAfter(int64_t days) {
  return kNotBefore + days * kDay - 1;
}

TEST(RenewalWindow, SixDayCertificateRenewsInsideItsLife) {
  RenewalWindow w = SuggestRenewalWindow(kNotBefore, NotAfter(6), false, kNotBefore);
  EXPECT_GT(w.start, kNotBefore + 3 * kDay);  // not in the first half
  EXPECT_LE(w.start, kNotBefore + 4 * kDay);  // opens by 2/3 of the life (day 4)
  EXPECT_EQ(w.start, kNotBefore + (6 * kDay - 1) * 2 / 3);
  EXPECT_EQ(w.end, w.start + (6 * kDay - 1) / 6);    // about a day long
  EXPECT_LT(w.end, NotAfter(6) - 20 * 3600);         // most of the last day left for retries
  EXPECT_EQ(w.retry_after, (6 * kDay - 1) / 6 / 4);  // about 6 hours: 4 polls in the window
}

TEST(RenewalWindow, NinetyDayCertificateKeepsItsSchedule) {
  RenewalWindow w = SuggestRenewalWindow(kNotBefore, NotAfter(90), false, kNotBefore);
  EXPECT_EQ(w.start, kNotBefore + (90 * kDay - 1) * 2 / 3);  // day 60 (less a second)
  EXPECT_GT(w.start, kNotBefore + 59 * kDay);
  EXPECT_EQ(w.end, w.start + (90 * kDay - 1) / 6);  // 15 days
  EXPECT_EQ(w.retry_after, 6 * 3600);               // capped at 6 hours
  // Exactly 90 days between the bounds (the gateway tests' fake engine): day 60 exactly.
  EXPECT_EQ(SuggestRenewalWindow(kNotBefore, kNotBefore + 90 * kDay, false, 0).start,
            kNotBefore + 60 * kDay);
}

TEST(RenewalWindow, ProportionalForEveryLifetime) {
  for (int64_t hours : {1, 6, 24, 160, 168, 47 * 24, 90 * 24}) {
    SCOPED_TRACE(hours);
    int64_t not_after = kNotBefore + hours * 3600 - 1;
    RenewalWindow w = SuggestRenewalWindow(kNotBefore, not_after, false, kNotBefore);
    EXPECT_GT(w.start, kNotBefore);
    EXPECT_LT(w.start, w.end);
    EXPECT_LE(w.end, not_after);
    EXPECT_GE(w.retry_after, 60);
    EXPECT_LE(w.retry_after, (w.end - w.start) / 2 + 60);  // at least two looks at the window
  }
}

TEST(RenewalWindow, RevokedRenewsNow) {
  RenewalWindow w = SuggestRenewalWindow(kNotBefore, NotAfter(6), true, kNotBefore + kDay);
  EXPECT_EQ(w.end, kNotBefore + kDay);
  EXPECT_EQ(w.start, kNotBefore + kDay - 3600);
}

}  // namespace
}  // namespace ca::gateway
