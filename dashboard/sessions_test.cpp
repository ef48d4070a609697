#include "dashboard/sessions.h"

#include <gtest/gtest.h>

#include <set>

#include "dashboard/testing/policy_fixture.h"

namespace ca::dashboard {
namespace {

TEST(SessionTable, CreateFindExpireRemove) {
  SessionTable t(100);
  std::string id = t.Create(Principal{false, "kid-a", "h"}, 1000);
  EXPECT_GE(id.size(), 43u);  // 256 random bits
  auto p = t.Find(id, 1050);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, "kid-a");
  EXPECT_FALSE(t.Find(id + "x", 1050));
  EXPECT_FALSE(t.Find(id, 1100));  // expired (and dropped)
  EXPECT_EQ(t.size(), 0u);
  std::string id2 = t.Create(Principal{true, "ops", "h"}, 2000);
  t.Remove(id2);
  EXPECT_FALSE(t.Find(id2, 2001));
}

TEST(SessionTable, IdsAreUniqueAndTheTableIsBounded) {
  SessionTable t(100, 3);
  std::set<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.insert(t.Create(Principal{false, "k", "h"}, 1000));
  EXPECT_EQ(ids.size(), 10u);
  EXPECT_EQ(t.size(), 3u);
}

TEST(LoginThrottle, RefusesAfterFailuresUntilTheWindowEnds) {
  LoginThrottle t(3, 60);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(t.Allowed("10.0.0.1", 1000));
    t.Failed("10.0.0.1", 1000);
  }
  EXPECT_FALSE(t.Allowed("10.0.0.1", 1010));
  EXPECT_TRUE(t.Allowed("10.0.0.2", 1010));  // per address
  EXPECT_TRUE(t.Allowed("10.0.0.1", 1061));
  t.Failed("10.0.0.2", 1000);
  t.Succeeded("10.0.0.2");
  EXPECT_TRUE(t.Allowed("10.0.0.2", 1001));
}

TEST(Authorization, AnAccountReadsOnlyItsOwnKid) {
  EXPECT_TRUE(MayRead(Principal{false, "kid-a", ""}, "kid-a"));
  EXPECT_FALSE(MayRead(Principal{false, "kid-a", ""}, "kid-b"));
  EXPECT_FALSE(MayRead(Principal{false, "kid-a", ""}, ""));
  EXPECT_FALSE(MayRead(Principal{false, "kid-a", ""}, "kid-a/../kid-b"));
  EXPECT_TRUE(MayRead(Principal{true, "ops", ""}, "kid-b"));
}

TEST(Authenticate, ChecksTheStoredHash) {
  testing::PolicyFixture f;
  auto snap = f.store().Snapshot();
  ASSERT_TRUE(snap);
  auto a = Authenticate(*snap, f.credential_a);
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->is_operator);
  EXPECT_EQ(a->id, f.kid_a);
  auto op = Authenticate(*snap, f.credential_op);
  ASSERT_TRUE(op);
  EXPECT_TRUE(op->is_operator);
  EXPECT_EQ(op->id, "ops");
  // B's secret under A's kid, a changed character, a malformed text, an unknown id: refused.
  std::string b_secret = f.credential_b.substr(f.credential_b.rfind('.'));
  EXPECT_FALSE(Authenticate(*snap, f.kid_a + b_secret));
  std::string changed = f.credential_a;
  changed.back() = changed.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(Authenticate(*snap, changed));
  EXPECT_FALSE(Authenticate(*snap, "garbage"));
  EXPECT_FALSE(Authenticate(*snap, "operator:nobody" + b_secret));
  EXPECT_TRUE(StillCurrent(*snap, *a));
}

TEST(Authenticate, AReissuedCredentialEndsTheOldOne) {
  testing::PolicyFixture f;
  auto a = Authenticate(*f.store().Snapshot(), f.credential_a);
  ASSERT_TRUE(a);
  ASSERT_TRUE(profiles::policy::admin::IssueAccountDashboardCredential(f.Ctx(), f.kid_a));
  auto snap = f.store().Snapshot();
  EXPECT_FALSE(StillCurrent(*snap, *a));
  EXPECT_FALSE(Authenticate(*snap, f.credential_a));
}

}  // namespace
}  // namespace ca::dashboard
