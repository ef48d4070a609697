#include "crl_ocsp/freshness.h"

#include <gtest/gtest.h>

namespace ca::crl_ocsp {
namespace {

using namespace std::chrono_literals;

TEST(Freshness, OcspResignAtHalfLifeMissingAndRevoked) {
  FreshnessPolicy policy;  // 4 days
  Time now = pki::Now();
  std::vector<ResponseState> s(7);
  for (auto& x : s) x.cert_not_after = now + 30 * 24h;
  s[0].response_this_update = now - 47h;  // before half-life
  s[0].response_next_update = now + 49h;
  s[1].response_this_update = now - 48h;  // exactly half-life
  s[1].response_next_update = now + 48h;
  // s[2]: no response yet
  s[3].response_this_update = now - 1h;  // fresh but the certificate was revoked since
  s[3].response_next_update = now + 95h;
  s[3].cert_revoked = true;
  s[4] = s[3];  // revoked and its response already says so
  s[4].response_says_revoked = true;
  s[5].cert_not_after = now - 1h;  // expired, stale response: leave alone
  s[5].response_this_update = now - 200h;
  s[5].response_next_update = now - 104h;
  s[6].response_this_update = now - 49h;  // signed with 10 days; policy now says 4 days
  s[6].response_next_update = now + 191h;
  OcspSchedule out = ScheduleOcsp(s, now, policy);
  ASSERT_EQ(out.now.size(), 4u);
  EXPECT_EQ(out.now[0].index, 1u);
  EXPECT_EQ(out.now[0].reason, ResignReason::kHalfLife);
  EXPECT_EQ(out.now[1].index, 2u);
  EXPECT_EQ(out.now[1].reason, ResignReason::kMissing);
  EXPECT_EQ(out.now[2].index, 3u);
  EXPECT_EQ(out.now[2].reason, ResignReason::kRevoked);
  EXPECT_EQ(out.now[3].index, 6u);
  ASSERT_TRUE(out.next_wake_up);
  EXPECT_EQ(*out.next_wake_up, now + 1h);  // s[0] reaches half-life in one hour
}

TEST(Freshness, ConfigurableValidity) {
  FreshnessPolicy policy;
  policy.ocsp_validity = 24h;
  Time now = pki::Now();
  ResponseState s;
  s.cert_not_after = now + 24h * 30;
  s.response_this_update = now - 13h;
  s.response_next_update = now + 83h;
  EXPECT_EQ(ScheduleOcsp(std::span(&s, 1), now, policy).now.size(), 1u);
  policy.ocsp_validity = 96h;
  EXPECT_EQ(ScheduleOcsp(std::span(&s, 1), now, policy).now.size(), 0u);
}

TEST(Freshness, CrlDailyAndWithinAMinuteOfRevocation) {
  FreshnessPolicy policy;
  Time now = pki::Now();
  EXPECT_TRUE(CrlDue({std::nullopt, std::nullopt}, now, policy));
  CrlState st{now - 23h, std::nullopt};
  EXPECT_FALSE(CrlDue(st, now, policy));
  EXPECT_EQ(NextCrlDue(st, policy), now + 1h);
  st.last_this_update = now - 24h;
  EXPECT_TRUE(CrlDue(st, now, policy));
  st = {now - 2h, now - 10s};
  EXPECT_FALSE(CrlDue(st, now, policy));
  EXPECT_EQ(NextCrlDue(st, policy), now + 20s);
  EXPECT_TRUE(CrlDue(st, now + 20s, policy));
  policy.crl_revocation_delay = 10min;  // capped at one minute
  EXPECT_EQ(NextCrlDue(st, policy), now + 50s);
}

}  // namespace
}  // namespace ca::crl_ocsp
