#include "profiles/policy/admin/lifecycle.h"

#include <gtest/gtest.h>

namespace ca::profiles::policy::admin {
namespace {

using A = AccountAction;
using E = ExternalAccountStatus;
using M = AcmeAccountStatus;

TEST(Lifecycle, ExternalAccountEveryTransition) {
  struct Case {
    E from;
    A action;
    std::optional<E> to;  // nullopt: illegal
  };
  const Case cases[] = {
      {E::kPending, A::kActivate, E::kActive},
      {E::kPending, A::kSuspend, std::nullopt},
      {E::kPending, A::kReactivate, std::nullopt},
      {E::kPending, A::kDeactivate, E::kDeactivated},
      {E::kPending, A::kRevoke, E::kRevoked},
      {E::kActive, A::kActivate, std::nullopt},
      {E::kActive, A::kSuspend, E::kSuspended},
      {E::kActive, A::kReactivate, std::nullopt},
      {E::kActive, A::kDeactivate, E::kDeactivated},
      {E::kActive, A::kRevoke, E::kRevoked},
      {E::kSuspended, A::kActivate, std::nullopt},
      {E::kSuspended, A::kSuspend, std::nullopt},
      {E::kSuspended, A::kReactivate, E::kActive},
      {E::kSuspended, A::kDeactivate, E::kDeactivated},
      {E::kSuspended, A::kRevoke, E::kRevoked},
      {E::kDeactivated, A::kActivate, std::nullopt},
      {E::kDeactivated, A::kSuspend, std::nullopt},
      {E::kDeactivated, A::kReactivate, std::nullopt},
      {E::kDeactivated, A::kDeactivate, std::nullopt},
      {E::kDeactivated, A::kRevoke, E::kRevoked},
      {E::kRevoked, A::kActivate, std::nullopt},
      {E::kRevoked, A::kSuspend, std::nullopt},
      {E::kRevoked, A::kReactivate, std::nullopt},
      {E::kRevoked, A::kDeactivate, std::nullopt},
      {E::kRevoked, A::kRevoke, std::nullopt},
  };
  for (const auto& c : cases) {
    auto r = NextExternalAccountStatus(c.from, c.action);
    SCOPED_TRACE(std::string(ExternalAccountStatusName(c.from)) + " " +
                 std::string(AccountActionName(c.action)));
    if (c.to) {
      ASSERT_TRUE(r);
      EXPECT_EQ(*r, *c.to);
    } else {
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
      EXPECT_NE(r.error().message.find("cannot " + std::string(AccountActionName(c.action))),
                std::string::npos);
    }
  }
  EXPECT_NE(NextExternalAccountStatus(E::kRevoked, A::kReactivate).error().message.find("final"),
            std::string::npos);
}

TEST(Lifecycle, AcmeAccountEveryTransition) {
  struct Case {
    M from;
    A action;
    std::optional<M> to;
  };
  const Case cases[] = {
      {M::kActive, A::kActivate, std::nullopt},
      {M::kActive, A::kSuspend, M::kSuspended},
      {M::kActive, A::kReactivate, std::nullopt},
      {M::kActive, A::kDeactivate, M::kDeactivated},
      {M::kActive, A::kRevoke, M::kRevoked},
      {M::kSuspended, A::kSuspend, std::nullopt},
      {M::kSuspended, A::kReactivate, M::kActive},
      {M::kSuspended, A::kDeactivate, M::kDeactivated},
      {M::kSuspended, A::kRevoke, M::kRevoked},
      {M::kDeactivated, A::kReactivate, std::nullopt},
      {M::kDeactivated, A::kSuspend, std::nullopt},
      {M::kDeactivated, A::kDeactivate, std::nullopt},
      {M::kDeactivated, A::kRevoke, M::kRevoked},
      {M::kRevoked, A::kReactivate, std::nullopt},
      {M::kRevoked, A::kSuspend, std::nullopt},
      {M::kRevoked, A::kDeactivate, std::nullopt},
      {M::kRevoked, A::kRevoke, std::nullopt},
  };
  for (const auto& c : cases) {
    auto r = NextAcmeAccountStatus(c.from, c.action);
    SCOPED_TRACE(std::string(AcmeAccountStatusName(c.from)) + " " +
                 std::string(AccountActionName(c.action)));
    if (c.to) {
      ASSERT_TRUE(r);
      EXPECT_EQ(*r, *c.to);
    } else {
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
    }
  }
}

TEST(Lifecycle, OrganizationAndDomain) {
  EXPECT_EQ(*NextOrgStatus(OrgStatus::kPending, OrgStatus::kValid), OrgStatus::kValid);
  EXPECT_EQ(*NextOrgStatus(OrgStatus::kPending, OrgStatus::kInvalid), OrgStatus::kInvalid);
  EXPECT_EQ(*NextOrgStatus(OrgStatus::kValid, OrgStatus::kInvalid), OrgStatus::kInvalid);
  EXPECT_EQ(*NextOrgStatus(OrgStatus::kInvalid, OrgStatus::kValid), OrgStatus::kValid);
  EXPECT_FALSE(NextOrgStatus(OrgStatus::kValid, OrgStatus::kValid));
  EXPECT_FALSE(NextOrgStatus(OrgStatus::kValid, OrgStatus::kPending));

  EXPECT_EQ(*NextDomainStatus(DomainStatus::kPending, DomainStatus::kValid), DomainStatus::kValid);
  EXPECT_EQ(*NextDomainStatus(DomainStatus::kPending, DomainStatus::kInvalid),
            DomainStatus::kInvalid);
  EXPECT_EQ(*NextDomainStatus(DomainStatus::kValid, DomainStatus::kInvalid),
            DomainStatus::kInvalid);
  auto v = NextDomainStatus(DomainStatus::kInvalid, DomainStatus::kValid);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("final"), std::string::npos);
  EXPECT_FALSE(NextDomainStatus(DomainStatus::kValid, DomainStatus::kValid));
  EXPECT_FALSE(NextDomainStatus(DomainStatus::kValid, DomainStatus::kPending));
}

}  // namespace
}  // namespace ca::profiles::policy::admin
