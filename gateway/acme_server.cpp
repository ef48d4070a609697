#include "gateway/acme_server.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/log.h"
#include "gateway/authentication.h"
#include "gateway/handlers.h"

namespace ca::gateway {

using nlohmann::json;

namespace {

// Single box: today's per-process nonces. With the pair's key: nonces any gateway checks, redeemed
// once across them all by an insert into the ACME store (shared in PostgreSQL mode).
NonceService MakeNonces(const GatewayOptions& options, const AcmeStore& store, const Clock& clock) {
  if (!options.shared_nonce_key) return NonceService(options.nonce_lifetime_seconds);
  SharedNonceOptions shared;
  shared.key = *options.shared_nonce_key;
  shared.gateway_id = options.gateway_id;
  shared.wall_clock = clock;
  shared.redeem = [&store](std::string_view id, int64_t expires_at) {
    return store.Write([&](StoreTxn& txn) { return txn.RedeemNonce(id, expires_at); });
  };
  return NonceService(options.nonce_lifetime_seconds, std::move(shared));
}

}  // namespace

AcmeServer::AcmeServer(GatewayOptions options, const AcmeStore& store, PolicyPort& policy,
                       IssuerPort& issuer, ValidatorPort& validator, Clock clock)
    : options_(std::move(options)),
      store_(store),
      nonces_(MakeNonces(options_, store_, clock)),
      context_{options_,         store_,  policy,        issuer,   validator,
               std::move(clock), nonces_, account_keys_, metrics_, validations_},
      validations_(context_, std::max<size_t>(1, options_.validation_workers)) {}

AcmeServer::~AcmeServer() {
  validations_.Stop();
}

HttpResponse AcmeServer::Handle(const HttpRequest& request) {
  RequestState ctx;
  Outcome outcome = Route(ctx, request);
  HttpResponse response;
  if (outcome) {
    response = std::move(*outcome);
  } else {
    const Problem& p = outcome.error();
    response = JsonResponse(ProblemHttpStatus(p.kind), ProblemToJson(p));
    response.headers.push_back({"Content-Type", "application/problem+json"});
    if (p.retry_after_seconds)
      response.headers.push_back({"Retry-After", std::to_string(*p.retry_after_seconds)});
    if (!p.location.empty()) response.headers.push_back({"Location", p.location});
    if (p.kind == ProblemKind::kMethodNotAllowed) {
      bool get_ok = ctx.endpoint == "directory" || ctx.endpoint == "renewal-info";
      response.headers.push_back({"Allow", ctx.endpoint == "new-nonce" ? "GET, HEAD, POST"
                                           : get_ok                    ? "GET"
                                                                       : "POST"});
    }
    ctx.log["problem"] = ProblemType(p.kind);
    ctx.log["detail"] = p.detail;
    std::string code = ResultCodeOf(p.detail);
    if (!code.empty()) ctx.log["result_code"] = code;
    AuditRefusal(ctx, p, code);
  }
  bool has_ct = std::any_of(response.headers.begin(), response.headers.end(),
                            [](const auto& h) { return h.first == "Content-Type"; });
  if (!has_ct && !response.body.empty())
    response.headers.push_back({"Content-Type", "application/json"});
  response.headers.push_back({"Replay-Nonce", nonces_.Issue()});
  response.headers.push_back({"Link", "<" + context_.Url("/directory") + ">;rel=\"index\""});
  response.headers.push_back({"Cache-Control", "no-store"});
  response.endpoint = ctx.endpoint.empty() ? "unknown" : ctx.endpoint;
  if (ctx.account) ctx.log["account"] = ctx.account->id;
  for (auto& [k, v] : response.log_fields.items()) ctx.log[k] = v;
  response.log_fields = ctx.log;
  metrics_.CountRequest(response.endpoint, response.status);
  return response;
}

void AcmeServer::AuditRefusal(const RequestState& ctx, const Problem& problem,
                              const std::string& result_code) {
  static const std::set<std::string, std::less<>> kIssuanceEndpoints = {"new-order", "finalize",
                                                                        "revoke-cert"};
  if (refusal_audit_ == nullptr || !kIssuanceEndpoints.contains(ctx.endpoint) ||
      problem.kind == ProblemKind::kBadNonce) {
    return;  // a stale nonce is the protocol's routine retry, not a refusal
  }
  nlohmann::json fields = {{"endpoint", ctx.endpoint},
                           {"problem", ProblemType(problem.kind)},
                           {"status", ProblemHttpStatus(problem.kind)},
                           {"result_code", result_code},
                           {"detail", problem.detail}};
  if (ctx.account) {
    fields["account"] = ctx.account->id;
    fields["external_account"] = ctx.account->external_account_kid;
  }
  nlohmann::json names = nlohmann::json::array();
  for (const auto& sub : problem.subproblems) {
    if (!sub.dns_name.empty()) names.push_back(sub.dns_name);
  }
  if (!names.empty()) fields["names"] = names;
  // Not durable on the answer's path: a refusal changes nothing, and losing the last refusals in
  // a crash loses no acknowledged state. A failed append is logged, never answered.
  if (auto appended = refusal_audit_->Append("issuance_refused", fields); !appended) {
    log::Error("audit_append_failed",
               {{"audit_event", "issuance_refused"}, {"error", appended.error().ToString()}});
  }
}

Outcome AcmeServer::Route(RequestState& ctx, const HttpRequest& req) {
  const std::string& path = req.path;
  const bool is_get = req.method == "GET" || req.method == "HEAD";
  auto post_only = [&]() -> ProblemOr<void> {
    if (req.method != "POST")
      return Err(ProblemKind::kMethodNotAllowed, "use POST (POST-as-GET for resources)");
    return {};
  };

  if (path == "/directory") {
    ctx.endpoint = "directory";
    if (!is_get) return Err(ProblemKind::kMethodNotAllowed, "the directory is fetched with GET");
    return Directory();
  }
  if (path == "/acme/new-nonce") {
    ctx.endpoint = "new-nonce";
    if (req.method == "POST") {
      auto jws = CA_TRY(Authenticate(context_, ctx, req, KeyMode::kKidOnly));
      if (!jws.PostAsGet()) return Err(ProblemKind::kMalformed, "newNonce takes an empty payload");
      HttpResponse r;
      r.status = 200;
      return r;
    }
    if (!is_get) return Err(ProblemKind::kMethodNotAllowed, "newNonce is HEAD or GET");
    HttpResponse r;
    r.status = req.method == "HEAD" ? 200 : 204;
    return r;
  }
  if (path.starts_with("/acme/renewal-info/")) {
    ctx.endpoint = "renewal-info";
    if (!is_get) return Err(ProblemKind::kMethodNotAllowed, "renewalInfo is fetched with GET");
    return RenewalInfo(context_, path.substr(std::string_view("/acme/renewal-info/").size()));
  }

  struct Route {
    const char* prefix;
    const char* endpoint;
    bool exact;
  };
  static const Route kRoutes[] = {
      {"/acme/new-account", "new-account", true}, {"/acme/new-order", "new-order", true},
      {"/acme/revoke-cert", "revoke-cert", true}, {"/acme/key-change", "key-change", true},
      {"/acme/acct/", "account", false},          {"/acme/order/", "order", false},
      {"/acme/authz/", "authz", false},           {"/acme/chall/", "challenge", false},
      {"/acme/cert/", "certificate", false},
  };
  const Route* route = nullptr;
  for (const auto& r : kRoutes) {
    if ((r.exact && path == r.prefix) || (!r.exact && path.starts_with(r.prefix))) {
      route = &r;
      break;
    }
  }
  if (route == nullptr) {
    ctx.endpoint = "unknown";
    return Err(ProblemKind::kNotFound, "no such resource: " + path);
  }
  ctx.endpoint = route->endpoint;
  std::string id = route->exact ? "" : path.substr(std::string_view(route->prefix).size());
  if (ctx.endpoint == "account" && id.ends_with("/orders")) {
    id.resize(id.size() - 7);
    ctx.endpoint = "orders";
  } else if (ctx.endpoint == "order" && id.ends_with("/finalize")) {
    id.resize(id.size() - 9);
    ctx.endpoint = "finalize";
  }
  if (!route->exact && !ValidId(id))
    return Err(ProblemKind::kNotFound, "no such resource: " + path);
  CA_TRY_STATUS(post_only());
  return RouteJws(ctx, req, id);
}

// The POST endpoints: authenticated by JWS, then handed to their handler (handlers.h).
Outcome AcmeServer::RouteJws(RequestState& ctx, const HttpRequest& req, const std::string& id) {
  if (ctx.endpoint == "new-account") {
    auto jws = CA_TRY(Authenticate(context_, ctx, req, KeyMode::kJwkOnly));
    return NewAccount(context_, ctx, jws);
  }
  if (ctx.endpoint == "revoke-cert") {
    auto jws = CA_TRY(Authenticate(context_, ctx, req, KeyMode::kEither));
    return RevokeCert(context_, ctx, jws);
  }
  auto jws = CA_TRY(Authenticate(context_, ctx, req, KeyMode::kKidOnly));
  if (ctx.endpoint == "new-order") return NewOrder(context_, ctx, jws);
  if (ctx.endpoint == "key-change") return KeyChange(context_, ctx, jws);
  if (ctx.endpoint == "account") return AccountPost(context_, ctx, jws, id);
  if (ctx.endpoint == "orders") return OrdersList(context_, ctx, jws, id);
  if (ctx.endpoint == "order") return OrderPost(context_, ctx, jws, id);
  if (ctx.endpoint == "finalize") return Finalize(context_, ctx, jws, id);
  if (ctx.endpoint == "authz") return AuthzPost(context_, ctx, jws, id);
  if (ctx.endpoint == "challenge") return ChallengePost(context_, ctx, jws, id);
  return CertificatePost(context_, ctx, jws, id);
}

Outcome AcmeServer::Directory() {
  json meta = {{"externalAccountRequired", true}, {"caaIdentities", options_.caa_identities}};
  if (!options_.terms_of_service.empty()) meta["termsOfService"] = options_.terms_of_service;
  if (!options_.website.empty()) meta["website"] = options_.website;
  // draft-ietf-acme-profiles: the profiles this CA issues (a disabled one is not offered).
  json profiles = json::object();
  for (const auto& [id, profile] : options_.certificate_profiles) {
    if (profile.enabled)
      profiles[std::string(profiles::policy::ProfileName(id))] = profile.description;
  }
  meta["profiles"] = profiles;
  json dir = {{"newNonce", context_.Url("/acme/new-nonce")},
              {"newAccount", context_.Url("/acme/new-account")},
              {"newOrder", context_.Url("/acme/new-order")},
              {"revokeCert", context_.Url("/acme/revoke-cert")},
              {"keyChange", context_.Url("/acme/key-change")},
              {"renewalInfo", context_.Url("/acme/renewal-info")},
              {"meta", meta}};
  return JsonResponse(200, dir);
}

}  // namespace ca::gateway
