// Authorizations (read, deactivate) and challenges (read, start a validation).
#include "gateway/handlers.h"

#include <algorithm>
#include <chrono>

#include "gateway/challenge_validations.h"
#include "gateway/order_state.h"
#include "pki/time.h"

namespace ca::gateway {

using nlohmann::json;

namespace {

json ChallengeJson(const HandlerContext& s, const ChallengeRecord& c) {
  json j = {{"type", c.type},
            {"url", s.Url("/acme/chall/" + c.id)},
            {"status", c.status},
            {"token", c.token}};
  if (c.validated_at != 0) j["validated"] = pki::FormatRfc3339(c.validated_at);
  if (!c.error.is_null()) j["error"] = c.error;
  return j;
}

Result<json> AuthzJson(const HandlerContext& s, const StoreTxn& txn, const AuthzRecord& a) {
  AuthzStatus status = a.status;
  if ((status == AuthzStatus::kPending || status == AuthzStatus::kValid) && s.clock() > a.expires)
    status = AuthzStatus::kExpired;
  json challenges = json::array();
  for (const auto& cid : a.challenge_ids) {
    auto c = CA_TRY(txn.GetChallenge(cid));
    if (!c) return Fail(ErrorCode::kCorrupt, "authorization " + a.id + " lacks challenge " + cid);
    challenges.push_back(ChallengeJson(s, *c));
  }
  json j = {{"identifier", {{"type", "dns"}, {"value", a.name}}},
            {"status", status},
            {"expires", pki::FormatRfc3339(a.expires)},
            {"challenges", challenges}};
  if (a.wildcard) j["wildcard"] = true;
  return j;
}

// RFC 8555 §7.1.6: an order moves to invalid when one of its authorizations enters a final state
// other than valid; a ready order too, since a deactivated authorization authorizes nothing
// (§7.5.2) and finalize must not issue on it.
Status InvalidateOrder(StoreTxn& txn, OrderRecord order, const AuthzRecord& deactivated) {
  if (order.status != OrderStatus::kPending && order.status != OrderStatus::kReady) return {};
  order.status = OrderStatus::kInvalid;
  order.error = ProblemToJson(
      MakeProblem(ProblemKind::kUnauthorized, "ACME_DEACTIVATED: authorization for " +
                                                  deactivated.name + " was deactivated by the client"));
  return txn.PutOrder(order);
}

// POL-5 when a validation starts too: the RA may have narrowed the domain's methods since the
// order was created.
ProblemOr<void> RequireChallengeTypeAllowed(HandlerContext& s, const AccountRecord& account,
                                            const ChallengeRecord& c) {
  std::string name, profile;
  {
    auto txn = s.store.Read();
    if (!txn) return Internal(txn.error());
    auto authz = txn->GetAuthz(c.authz_id);
    if (!authz || !*authz)
      return Internal(authz ? Error{ErrorCode::kCorrupt, "challenge without authz"}
                            : authz.error());
    auto order = txn->GetOrder((*authz)->order_id);
    if (!order || !*order)
      return Internal(order ? Error{ErrorCode::kCorrupt, "authz without order"} : order.error());
    name = ((*authz)->wildcard ? "*." : "") + (*authz)->name;
    profile = (*order)->profile;
  }
  auto types = s.policy.ChallengeTypes(account, name, profile, s.clock());
  if (!types) return Internal(types.error());
  if (std::ranges::find(*types, c.type) != types->end()) return {};
  std::string allowed;
  for (const auto& t : *types) allowed += (allowed.empty() ? "" : ", ") + t;
  return Err(ProblemKind::kUnauthorized, "UNAUTHORIZED_DOMAIN: " + name + ": challenge type " +
                                             c.type + " is not allowed for this domain (allowed: " +
                                             (allowed.empty() ? "none" : allowed) + ")");
}

}  // namespace

Outcome AuthzPost(HandlerContext& s, RequestState& ctx, const Jws& jws, const std::string& id) {
  auto txn = s.store.Read();
  if (!txn) return Internal(txn.error());
  auto authz = txn->GetAuthz(id);
  if (!authz) return Internal(authz.error());
  if (!*authz || (*authz)->account_id != ctx.account->id)
    return Err(ProblemKind::kNotFound, "no such authorization");
  ctx.log["order"] = (*authz)->order_id;
  if (!jws.PostAsGet()) {
    auto payload = CA_TRY(PayloadObject(jws));
    if (payload.value("status", json()) != "deactivated")
      return Err(ProblemKind::kMalformed,
                 "the only update of an authorization is {\"status\":\"deactivated\"}");
    AuthzStatus found_status = AuthzStatus::kPending;
    Status written = s.store.Write([&](StoreTxn& wtxn) -> Status {
      auto current = CA_TRY(wtxn.GetAuthz(id));
      if (!current) return Fail(ErrorCode::kCorrupt, "authorization " + id + " vanished");
      found_status = current->status;
      if (found_status != AuthzStatus::kPending && found_status != AuthzStatus::kValid) return {};
      current->status = AuthzStatus::kDeactivated;
      CA_TRY_STATUS(wtxn.PutAuthz(*current));
      **authz = std::move(*current);
      auto order = CA_TRY(wtxn.GetOrder((*authz)->order_id));
      if (order) CA_TRY_STATUS(InvalidateOrder(wtxn, std::move(*order), **authz));
      return {};
    });
    if (!written) return Internal(written.error());
    if (found_status != AuthzStatus::kPending && found_status != AuthzStatus::kValid)
      return Err(ProblemKind::kMalformed,
                 "an authorization that is " + StatusName(found_status) + " cannot be deactivated");
    auto rtxn = s.store.Read();
    if (!rtxn) return Internal(rtxn.error());
    auto body = AuthzJson(s, *rtxn, **authz);
    if (!body) return Internal(body.error());
    return JsonResponse(200, *body);
  }
  auto body = AuthzJson(s, *txn, **authz);
  if (!body) return Internal(body.error());
  HttpResponse r = JsonResponse(200, *body);
  if ((*authz)->status == AuthzStatus::kPending) {
    // Pending while a challenge is processing: ask again once its attempt has likely ended.
    int64_t retry_after = 0;
    for (const auto& cid : (*authz)->challenge_ids) {
      auto c = txn->GetChallenge(cid);
      if (c && *c && (*c)->status == ChallengeStatus::kProcessing)
        retry_after = std::max(retry_after, s.validations.ChallengeRetryAfter(cid));
    }
    if (retry_after > 0) r.headers.push_back({"Retry-After", std::to_string(retry_after)});
  }
  return r;
}

Outcome ChallengePost(HandlerContext& s, RequestState& ctx, const Jws& jws, const std::string& id) {
  auto respond = [&](const ChallengeRecord& c) {
    HttpResponse r = JsonResponse(200, ChallengeJson(s, c));
    r.headers.push_back({"Link", "<" + s.Url("/acme/authz/" + c.authz_id) + ">;rel=\"up\""});
    if (c.status == ChallengeStatus::kProcessing)
      r.headers.push_back({"Retry-After", std::to_string(s.validations.ChallengeRetryAfter(c.id))});
    return r;
  };
  ChallengeRecord c;
  {
    auto txn = s.store.Read();
    if (!txn) return Internal(txn.error());
    auto chall = txn->GetChallenge(id);
    if (!chall) return Internal(chall.error());
    if (!*chall || (*chall)->account_id != ctx.account->id)
      return Err(ProblemKind::kNotFound, "no such challenge");
    c = std::move(**chall);
  }
  if (jws.PostAsGet()) return respond(c);
  auto payload = CA_TRY(PayloadObject(jws));
  (void)payload;  // RFC 8555 §7.5.1: an empty object; other members are ignored
  if (c.status != ChallengeStatus::kPending) return respond(c);
  CA_TRY_STATUS(RequireChallengeTypeAllowed(s, *ctx.account, c));
  // Decided again inside the write, on the state it sees.
  std::optional<Problem> refusal;
  bool started = false;
  std::string order_id;
  Status written = s.store.Write([&](StoreTxn& txn) -> Status {
    refusal.reset();
    started = false;
    auto current = CA_TRY(txn.GetChallenge(id));
    if (!current) return Fail(ErrorCode::kCorrupt, "challenge " + id + " vanished");
    c = std::move(*current);
    if (c.status != ChallengeStatus::kPending) return {};
    auto authz = CA_TRY(txn.GetAuthz(c.authz_id));
    if (!authz) return Fail(ErrorCode::kCorrupt, "challenge without authz");
    int64_t now = s.clock();
    if (authz->status == AuthzStatus::kDeactivated) {
      refusal = MakeProblem(ProblemKind::kMalformed,
                            "ACME_DEACTIVATED: the client deactivated this authorization");
      return {};
    }
    if (authz->status != AuthzStatus::kPending || now > authz->expires) {
      refusal = MakeProblem(ProblemKind::kMalformed, "the authorization is no longer pending");
      return {};
    }
    auto failures = CA_TRY(txn.CountFailedValidations(ctx.account->id, authz->name, now, 3600));
    if (failures.first >= static_cast<size_t>(s.options.max_failed_validations_per_hour)) {
      Problem p =
          MakeProblem(ProblemKind::kRateLimited, "RATE_LIMITED: " + std::to_string(failures.first) +
                                                     " failed validations of " + authz->name +
                                                     " by this account in the last hour");
      p.retry_after_seconds = static_cast<int>(std::max<int64_t>(1, failures.second + 3600 - now));
      p.subproblems.push_back({ProblemKind::kRateLimited, p.detail, authz->name});
      refusal = std::move(p);
      return {};
    }
    c.status = ChallengeStatus::kProcessing;
    order_id = authz->order_id;
    started = true;
    return txn.PutChallenge(c);
  });
  if (!written) return Internal(written.error());
  if (refusal) return std::unexpected(*refusal);
  if (started) {
    ctx.log["order"] = order_id;
    // RFC 8555 §7.5.1 lets the answer be the challenge as it is once the server has finished: a
    // validation that ends within the wait is answered valid or invalid (read back after its
    // durable write), and the client's next poll of the authorization finds it final.
    if (s.validations.ScheduleAndAwait(
            c.id, std::chrono::milliseconds(s.options.validation_answer_wait_ms))) {
      if (auto txn = s.store.Read()) {
        if (auto recorded = txn->GetChallenge(c.id); recorded && *recorded)
          c = std::move(**recorded);
      }
    }
    ctx.log["challenge_status"] = c.status;
  }
  return respond(c);
}

}  // namespace ca::gateway
