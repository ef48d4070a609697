// Orders: newOrder (policy decision, authorizations and challenges, rate limit) and order POST.
#include "gateway/handlers.h"

#include <algorithm>
#include <set>

#include "common/encoding.h"
#include "common/log.h"
#include "gateway/challenge_validations.h"
#include "gateway/order_state.h"

namespace ca::gateway {

using nlohmann::json;

namespace {

// One pending authorization per name, with one challenge per type the policy allows for that name
// (the external account's types the RA's domain entry allows, POL-5; dns-01 only for wildcards);
// their ids are added to the order.
ProblemOr<void> NewAuthorizations(HandlerContext& s, const AccountRecord& account,
                                  OrderRecord& order, int64_t now, std::vector<AuthzRecord>& authzs,
                                  std::vector<ChallengeRecord>& challenges) {
  for (const auto& name : order.names) {
    auto allowed_challenges = s.policy.ChallengeTypes(account, name, order.profile, now);
    if (!allowed_challenges) return Internal(allowed_challenges.error());
    AuthzRecord a;
    a.id = NewId();
    a.account_id = order.account_id;
    a.order_id = order.id;
    a.wildcard = name.starts_with("*.");
    a.name = a.wildcard ? name.substr(2) : name;
    a.status = AuthzStatus::kPending;
    a.expires = std::min(order.expires, now + s.options.authz_lifetime_seconds);
    for (const auto& type : *allowed_challenges) {
      if (a.wildcard && type != "dns-01") continue;
      ChallengeRecord c;
      c.id = NewId();
      c.authz_id = a.id;
      c.account_id = order.account_id;
      c.type = type;
      c.token = Base64UrlEncode(RandomBytes(32));
      c.status = ChallengeStatus::kPending;
      a.challenge_ids.push_back(c.id);
      challenges.push_back(std::move(c));
    }
    if (a.challenge_ids.empty())
      return std::unexpected(ProblemForResultCode(
          "UNAUTHORIZED_DOMAIN", name,
          "no challenge type usable for this identifier is allowed for its domain entry"));
    order.authz_ids.push_back(a.id);
    authzs.push_back(std::move(a));
  }
  return {};
}

// The certificate profile's limit on SAN entries (max_names), below the gateway's own cap. A
// profile the RA granted but the profiles directory lacks (an operator's, misspelt or not copied)
// is refused here rather than at finalize.
ProblemOr<void> CheckNameCount(const HandlerContext& s, const std::string& profile, size_t count) {
  auto id = profiles::policy::ParseProfile(profile);
  auto it = id ? s.options.certificate_profiles.find(*id) : s.options.certificate_profiles.end();
  if (it == s.options.certificate_profiles.end()) {
    if (s.options.certificate_profiles.empty()) return {};  // none loaded here: the engine decides
    return Err(ProblemKind::kInvalidProfile,
               "PROFILE_NOT_ALLOWED: profile " + profile + " is not configured on this server");
  }
  size_t limit = static_cast<size_t>(std::max(it->second.max_names, 0));
  if (count > limit)
    return Err(ProblemKind::kRejectedIdentifier,
               "profile " + profile + " allows at most " + std::to_string(limit) +
                   " names, the order has " + std::to_string(count));
  return {};
}

}  // namespace

Outcome NewOrder(HandlerContext& s, RequestState& ctx, const Jws& jws) {
  auto payload = CA_TRY(PayloadObject(jws));
  const AccountRecord& account = *ctx.account;
  if (payload.contains("notBefore") || payload.contains("notAfter"))
    return Err(ProblemKind::kMalformed,
               "notBefore/notAfter are not supported: validity comes from the profile");
  auto ids = payload.find("identifiers");
  if (ids == payload.end() || !ids->is_array() || ids->empty())
    return Err(ProblemKind::kMalformed, "identifiers must be a non-empty array");
  if (ids->size() > s.options.max_identifiers)
    return Err(ProblemKind::kRejectedIdentifier,
               "at most " + std::to_string(s.options.max_identifiers) + " identifiers per order");
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& id : *ids) {
    if (!id.is_object() || !id.contains("type") || !id.contains("value") ||
        !id["type"].is_string() || !id["value"].is_string())
      return Err(ProblemKind::kMalformed, "each identifier needs string type and value");
    if (id["type"] != "dns") {
      Problem p =
          MakeProblem(ProblemKind::kUnsupportedIdentifier, "only dns identifiers are supported");
      return std::unexpected(p);
    }
    std::string value = id["value"].get<std::string>();
    std::string lowered = AsciiLower(value);
    if (seen.insert(lowered).second) names.push_back(lowered);
  }
  int64_t now = s.clock();
  // The profile: the account's effective profile; a requested one must equal it.
  auto standing = s.policy.Decide(account, {}, account.profile, now);
  if (!standing) return Internal(standing.error());
  std::string profile = standing->profile.empty() ? account.profile : standing->profile;
  if (payload.contains("profile")) {
    if (!payload["profile"].is_string())
      return Err(ProblemKind::kMalformed, "profile must be a string");
    std::string requested = payload["profile"].get<std::string>();
    if (requested != profile)
      return Err(ProblemKind::kInvalidProfile, "PROFILE_NOT_ALLOWED: this account's profile is " +
                                                   profile + ", not \"" + requested + "\"");
  }
  CA_TRY_STATUS(CheckNameCount(s, profile, names.size()));
  auto verdict = s.policy.Decide(account, names, profile, now);
  if (!verdict) return Internal(verdict.error());
  if (!verdict->allowed) {
    ctx.log["policy_version"] = verdict->policy_version;
    return std::unexpected(
        ProblemForResultCode(verdict->result_code, verdict->name, verdict->detail));
  }
  auto ext = s.policy.FindExternalAccount(account.external_account_kid, now);
  if (!ext) return Internal(ext.error());
  if (!*ext)
    return std::unexpected(
        ProblemForResultCode("EXTERNAL_ACCOUNT_NOT_FOUND", account.external_account_kid, ""));

  OrderRecord order;
  order.id = NewId();
  order.account_id = account.id;
  order.external_account_kid = account.external_account_kid;
  order.status = OrderStatus::kPending;
  order.created_at = now;
  order.expires = now + s.options.order_lifetime_seconds;
  order.names = names;
  order.profile = profile;
  order.request_id = RandomUuidV4();
  std::vector<AuthzRecord> authzs;
  std::vector<ChallengeRecord> challenges;
  CA_TRY_STATUS(NewAuthorizations(s, account, order, now, authzs, challenges));

  bool rate_limited = false;
  Status written = s.store.Write([&](StoreTxn& txn) -> Status {
    size_t recent = CA_TRY(txn.CountOrdersSince(account.id, now - 3600));
    rate_limited = recent >= (*ext)->orders_per_hour;
    if (rate_limited) return {};
    for (const auto& c : challenges) CA_TRY_STATUS(txn.PutChallenge(c));
    for (const auto& a : authzs) CA_TRY_STATUS(txn.PutAuthz(a));
    return txn.PutOrder(order);
  });
  if (!written) return Internal(written.error());
  if (rate_limited) {
    Problem p = MakeProblem(ProblemKind::kRateLimited, "RATE_LIMITED: at most " +
                                                           std::to_string((*ext)->orders_per_hour) +
                                                           " orders per hour for this account");
    p.retry_after_seconds = 3600;
    return std::unexpected(p);
  }
  ctx.log["order"] = order.id;
  ctx.log["policy_version"] = verdict->policy_version;
  log::Info("order_created",
            {{"account", account.id}, {"order", order.id}, {"names", names}, {"profile", profile}});
  HttpResponse r = JsonResponse(201, OrderJson(s, order));
  r.headers.push_back({"Location", s.Url("/acme/order/" + order.id)});
  return r;
}

Outcome OrderPost(HandlerContext& s, RequestState& ctx, const Jws& jws, const std::string& id) {
  if (!jws.PostAsGet()) return Err(ProblemKind::kMalformed, "orders are read with POST-as-GET");
  auto refreshed = CurrentOrder(s, id);
  if (!refreshed) return Internal(refreshed.error());
  if (!*refreshed || (*refreshed)->account_id != ctx.account->id)
    return Err(ProblemKind::kNotFound, "no such order");
  ctx.log["order"] = id;
  HttpResponse r = JsonResponse(200, OrderJson(s, **refreshed));
  r.headers.push_back({"Location", s.Url("/acme/order/" + id)});
  if ((*refreshed)->status == OrderStatus::kProcessing)
    r.headers.push_back({"Retry-After", std::to_string(s.validations.OrderRetryAfter(id))});
  return r;
}

}  // namespace ca::gateway
