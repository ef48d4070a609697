// JWS authentication common to every ACME POST: Content-Type, structure, alg, url, nonce, jwk xor
// kid, signature; for kid-signed requests the account (its key cached) and its status.
#pragma once

#include "gateway/handler_context.h"
#include "gateway/jws.h"

namespace ca::gateway {

// newAccount requires an embedded jwk; revokeCert accepts either; everything else a kid.
enum class KeyMode { kKidOnly, kJwkOnly, kEither };

// Sets ctx.account (kid) or ctx.jwk (jwk).
ProblemOr<Jws> Authenticate(HandlerContext& s, RequestState& ctx, const HttpRequest& request,
                            KeyMode mode);
// Refuses deactivated and revoked accounts.
ProblemOr<void> RequireAccountStatus(const AccountRecord& account);

}  // namespace ca::gateway
