#include "profiles/policy/admin/lifecycle.h"

#include <string>

namespace ca::profiles::policy::admin {

namespace {

std::unexpected<Error> Illegal(AccountAction action, std::string_view from, std::string_view why) {
  return Fail(ErrorCode::kFailedPrecondition, "cannot " + std::string(AccountActionName(action)) +
                                                  ": the account is " + std::string(from) +
                                                  std::string(why));
}

}  // namespace

std::string_view AccountActionName(AccountAction a) {
  switch (a) {
    case AccountAction::kActivate:
      return "activate";
    case AccountAction::kSuspend:
      return "suspend";
    case AccountAction::kReactivate:
      return "reactivate";
    case AccountAction::kDeactivate:
      return "deactivate";
    case AccountAction::kRevoke:
      return "revoke";
  }
  return "?";
}

namespace {

// The transitions both kinds of account share (they differ only in how an account is activated).
template <class S>
Result<S> NextSharedStatus(S from, std::string_view name, AccountAction action) {
  switch (action) {
    case AccountAction::kActivate:
      break;  // the caller's rule
    case AccountAction::kSuspend:
      if (from == S::kActive) return S::kSuspended;
      return Illegal(action, name, from == S::kDeactivated ? " (final)" : "");
    case AccountAction::kReactivate:
      if (from == S::kSuspended) return S::kActive;
      return Illegal(action, name, from == S::kDeactivated ? " (final)" : "");
    case AccountAction::kDeactivate:
      if (from == S::kDeactivated) return Illegal(action, name, " already");
      return S::kDeactivated;
    case AccountAction::kRevoke:
      return S::kRevoked;
  }
  return Illegal(action, name, "");
}

}  // namespace

namespace {

template <class S>
bool AlreadyDoneShared(S from, AccountAction action) {
  switch (action) {
    case AccountAction::kActivate:
    case AccountAction::kReactivate:
      return from == S::kActive;
    case AccountAction::kSuspend:
      return from == S::kSuspended;
    case AccountAction::kDeactivate:
      return from == S::kDeactivated;
    case AccountAction::kRevoke:
      return from == S::kRevoked;
  }
  return false;
}

}  // namespace

bool AlreadyDone(ExternalAccountStatus from, AccountAction action) {
  return AlreadyDoneShared(from, action);
}
bool AlreadyDone(AcmeAccountStatus from, AccountAction action) {
  return AlreadyDoneShared(from, action);
}

Result<ExternalAccountStatus> NextExternalAccountStatus(ExternalAccountStatus from, AccountAction action) {
  using S = ExternalAccountStatus;
  std::string_view name = ExternalAccountStatusName(from);
  if (from == S::kRevoked) return Illegal(action, name, " (final)");
  if (action != AccountAction::kActivate) return NextSharedStatus(from, name, action);
  if (from == S::kPending) return S::kActive;
  return Illegal(action, name, from == S::kSuspended ? " (use reactivate)" : "");
}

Result<AcmeAccountStatus> NextAcmeAccountStatus(AcmeAccountStatus from, AccountAction action) {
  std::string_view name = AcmeAccountStatusName(from);
  if (from == AcmeAccountStatus::kRevoked) return Illegal(action, name, " (final)");
  if (action != AccountAction::kActivate) return NextSharedStatus(from, name, action);
  return Illegal(action, name, " (ACME accounts are created active; use reactivate)");
}

Result<OrgStatus> NextOrgStatus(OrgStatus from, OrgStatus to) {
  if (to == OrgStatus::kPending) {
    return Fail(ErrorCode::kFailedPrecondition, "an organization cannot go back to pending");
  }
  if (from == to) {
    return Fail(ErrorCode::kFailedPrecondition,
                "the organization is already " + std::string(OrgStatusName(from)));
  }
  return to;
}

Result<DomainStatus> NextDomainStatus(DomainStatus from, DomainStatus to) {
  if (from == DomainStatus::kInvalid) {
    return Fail(ErrorCode::kFailedPrecondition, "the domain is invalid, which is final");
  }
  if (to == DomainStatus::kPending) {
    return Fail(ErrorCode::kFailedPrecondition, "a domain cannot go back to pending");
  }
  if (from == to) {
    return Fail(ErrorCode::kFailedPrecondition,
                "the domain is already " + std::string(DomainStatusName(from)));
  }
  return to;
}

}  // namespace ca::profiles::policy::admin
