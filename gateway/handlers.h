// The ACME endpoints, one file per concern; acme_server.cpp authenticates the request and routes
// it here. Each takes the shared HandlerContext, the request's state (the authenticated account
// is set for every kid-signed request) and the verified JWS.
#pragma once

#include <string>

#include "gateway/handler_context.h"
#include "gateway/jws.h"

namespace ca::gateway {

// accounts.cpp
Outcome NewAccount(HandlerContext& s, RequestState& ctx, const Jws& jws);  // POST /acme/new-account
Outcome AccountPost(HandlerContext& s, RequestState& ctx, const Jws& jws,  // POST /acme/acct/{id}
                    const std::string& id);
Outcome OrdersList(HandlerContext& s, RequestState& ctx,
                   const Jws& jws,  // POST /acme/acct/{id}/orders
                   const std::string& id);
Outcome KeyChange(HandlerContext& s, RequestState& ctx, const Jws& jws);  // POST /acme/key-change

// orders.cpp
Outcome NewOrder(HandlerContext& s, RequestState& ctx, const Jws& jws);  // POST /acme/new-order
Outcome OrderPost(HandlerContext& s, RequestState& ctx, const Jws& jws,  // POST /acme/order/{id}
                  const std::string& id);

// finalize.cpp
Outcome Finalize(HandlerContext& s, RequestState& ctx,
                 const Jws& jws,  // POST /acme/order/{id}/finalize
                 const std::string& id);

// authorizations.cpp
Outcome AuthzPost(HandlerContext& s, RequestState& ctx, const Jws& jws,  // POST /acme/authz/{id}
                  const std::string& id);
Outcome ChallengePost(HandlerContext& s, RequestState& ctx,
                      const Jws& jws,  // POST /acme/chall/{id}
                      const std::string& id);

// certificates.cpp
Outcome CertificatePost(HandlerContext& s, RequestState& ctx,
                        const Jws& jws,  // POST /acme/cert/{serial}
                        const std::string& serial);

// revocation.cpp
Outcome RevokeCert(HandlerContext& s, RequestState& ctx, const Jws& jws);  // POST /acme/revoke-cert

// renewal_info.cpp
Outcome RenewalInfo(HandlerContext& s, const std::string& cert_id);  // GET /acme/renewal-info/{id}

}  // namespace ca::gateway
