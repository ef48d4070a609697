// Lifecycle transitions (POL-5, POL-6) as pure functions: the next status or one line saying why
// the transition is illegal. suspend is reversible; deactivate and revoke are final (revoke may
// still follow deactivate, to revoke the certificates of an account already deactivated); a domain
// or an account never leaves "invalid" / "revoked".
#pragma once

#include <string_view>

#include "common/result.h"
#include "profiles/policy/model.h"

namespace ca::profiles::policy::admin {

enum class AccountAction { kActivate, kSuspend, kReactivate, kDeactivate, kRevoke };
std::string_view AccountActionName(AccountAction a);  // "activate", "suspend", ...

Result<ExternalAccountStatus> NextExternalAccountStatus(ExternalAccountStatus from,
                                                        AccountAction action);
Result<AcmeAccountStatus> NextAcmeAccountStatus(AcmeAccountStatus from, AccountAction action);
// True when the account is already where `action` leads (suspend a suspended account, revoke a
// revoked one, ...): the change is then a no-op that writes nothing, not an error, so that an
// operator (or a script) can repeat a command safely.
bool AlreadyDone(ExternalAccountStatus from, AccountAction action);
bool AlreadyDone(AcmeAccountStatus from, AccountAction action);

// validate -> kValid, invalidate -> kInvalid.
Result<OrgStatus> NextOrgStatus(OrgStatus from, OrgStatus to);
Result<DomainStatus> NextDomainStatus(DomainStatus from, DomainStatus to);

}  // namespace ca::profiles::policy::admin
