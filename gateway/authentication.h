// JWS authentication common to every ACME POST: Content-Type, structure, alg, url, nonce, jwk xor
// kid, signature; for kid-signed requests the account (its key cached), its status, and its
// standing in the RA's policy snapshot: a suspended, revoked or expired ACME or external account is
// refused here, once, for every kid-signed endpoint (challenges, authorizations, orders, key
// change, certificate download, account updates), with the operator's result code.
#pragma once

#include "gateway/handler_context.h"
#include "gateway/jws.h"

namespace ca::gateway {

// newAccount requires an embedded jwk; revokeCert accepts either; everything else a kid.
enum class KeyMode { kKidOnly, kJwkOnly, kEither };

// Sets ctx.account (kid) or ctx.jwk (jwk).
ProblemOr<Jws> Authenticate(HandlerContext& s, RequestState& ctx, const HttpRequest& request,
                            KeyMode mode);
// Refuses deactivated and revoked accounts (the gateway's own record).
ProblemOr<void> RequireAccountStatus(const AccountRecord& account);
// Refuses an account the policy decision function refuses on its own (no names): SUSPENDED_ACCOUNT,
// REVOKED_EXTERNAL_ACCOUNT, EXPIRED_ACCOUNT, ... as ProblemForResultCode gives them.
ProblemOr<void> RequirePolicyStanding(HandlerContext& s, const AccountRecord& account);

}  // namespace ca::gateway
