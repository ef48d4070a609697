#include "gateway/acme_server.h"

#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>

#include "common/encoding.h"
#include "common/log.h"
#include "gateway/csr.h"

namespace ca::gateway {

namespace {

using nlohmann::json;

constexpr char kJose[] = "application/jose+json";

std::unexpected<Problem> Err(ProblemKind kind, std::string detail) {
  return std::unexpected(MakeProblem(kind, std::move(detail)));
}

std::unexpected<Problem> Internal(const Error& e) {
  log::Error("internal_error", {{"error", e.ToString()}});
  return Err(ProblemKind::kServerInternal, "ACME_OTHER_ERROR: internal error");
}

std::string Rfc3339(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string NewId() {
  return Base64UrlEncode(RandomBytes(16));
}

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string NormalizeSerial(std::string hex) {
  hex = AsciiLower(hex);
  size_t nz = hex.find_first_not_of('0');
  return nz == std::string::npos ? "0" : hex.substr(nz);
}

}  // namespace

struct AcmeServer::Ctx {
  std::string endpoint;
  std::optional<AccountRecord> account;
  json jwk;  // the verifying key when the JWS carried a jwk
  json log = json::object();
};

AcmeServer::AcmeServer(GatewayOptions options, const AcmeStore& store, PolicyPort& policy, IssuerPort& issuer,
                       ValidatorPort& validator, Clock clock)
    : options_(std::move(options)),
      store_(store),
      policy_(policy),
      issuer_(issuer),
      validator_(validator),
      clock_(std::move(clock)),
      nonces_(options_.nonce_lifetime_seconds) {
  for (size_t i = 0; i < std::max<size_t>(1, options_.validation_workers); ++i)
    workers_.emplace_back([this] { WorkerLoop(); });
}

AcmeServer::~AcmeServer() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

// ---------------------------------------------------------------------------------------------
// Dispatch

HttpResponse AcmeServer::Handle(const HttpRequest& request) {
  Ctx ctx;
  Outcome outcome = Route(ctx, request);
  HttpResponse response;
  if (outcome) {
    response = std::move(*outcome);
  } else {
    const Problem& p = outcome.error();
    response = Json(ProblemHttpStatus(p.kind), ProblemToJson(p));
    response.headers.push_back({"Content-Type", "application/problem+json"});
    if (p.retry_after_seconds) response.headers.push_back({"Retry-After", std::to_string(*p.retry_after_seconds)});
    if (!p.location.empty()) response.headers.push_back({"Location", p.location});
    if (p.kind == ProblemKind::kMethodNotAllowed) {
      bool get_ok = ctx.endpoint == "directory" || ctx.endpoint == "renewal-info" || ctx.endpoint == "metrics";
      response.headers.push_back({"Allow", ctx.endpoint == "new-nonce" ? "GET, HEAD, POST"
                                           : get_ok                    ? "GET"
                                                                       : "POST"});
    }
    ctx.log["problem"] = ProblemType(p.kind);
    ctx.log["detail"] = p.detail;
    auto colon = p.detail.find(':');
    std::string code = colon == std::string::npos ? "" : p.detail.substr(0, colon);
    if (!code.empty() && std::all_of(code.begin(), code.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)) || c == '_'; }))
      ctx.log["result_code"] = code;
  }
  bool has_ct = std::any_of(response.headers.begin(), response.headers.end(),
                            [](const auto& h) { return h.first == "Content-Type"; });
  if (!has_ct && !response.body.empty()) response.headers.push_back({"Content-Type", "application/json"});
  if (ctx.endpoint != "metrics") {
    response.headers.push_back({"Replay-Nonce", nonces_.Issue(clock_())});
    response.headers.push_back({"Link", "<" + Url("/directory") + ">;rel=\"index\""});
    response.headers.push_back({"Cache-Control", "no-store"});
  }
  response.endpoint = ctx.endpoint.empty() ? "unknown" : ctx.endpoint;
  if (ctx.account) ctx.log["account"] = ctx.account->id;
  for (auto& [k, v] : response.log_fields.items()) ctx.log[k] = v;
  response.log_fields = ctx.log;
  CountRequest(response.endpoint, response.status);
  return response;
}

AcmeServer::Outcome AcmeServer::Route(Ctx& ctx, const HttpRequest& req) {
  const std::string& path = req.path;
  std::string rest;
  const bool is_get = req.method == "GET" || req.method == "HEAD";
  auto post_only = [&]() -> ProblemOr<void> {
    if (req.method != "POST") return Err(ProblemKind::kMethodNotAllowed, "use POST (POST-as-GET for resources)");
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
      auto jws = CA_TRY(Authenticate(ctx, req, KeyMode::kKidOnly));
      if (!jws.PostAsGet()) return Err(ProblemKind::kMalformed, "newNonce takes an empty payload");
      HttpResponse r;
      r.status = 200;
      return r;
    }
    if (!is_get) return Err(ProblemKind::kMethodNotAllowed, "newNonce is HEAD or GET");
    return NewNonce(req);
  }
  if (path.starts_with("/acme/renewal-info/")) {
    ctx.endpoint = "renewal-info";
    if (!is_get) return Err(ProblemKind::kMethodNotAllowed, "renewalInfo is fetched with GET");
    return RenewalInfo(path.substr(std::string_view("/acme/renewal-info/").size()));
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
  std::string sub;
  if (ctx.endpoint == "account" && id.ends_with("/orders")) {
    id.resize(id.size() - 7);
    sub = "orders";
    ctx.endpoint = "orders";
  } else if (ctx.endpoint == "order" && id.ends_with("/finalize")) {
    id.resize(id.size() - 9);
    sub = "finalize";
    ctx.endpoint = "finalize";
  }
  if (!route->exact && !ValidId(id)) return Err(ProblemKind::kNotFound, "no such resource: " + path);
  CA_TRY_STATUS(post_only());

  if (ctx.endpoint == "new-account") {
    auto jws = CA_TRY(Authenticate(ctx, req, KeyMode::kJwkOnly));
    return NewAccount(ctx, jws);
  }
  if (ctx.endpoint == "revoke-cert") {
    auto jws = CA_TRY(Authenticate(ctx, req, KeyMode::kEither));
    return RevokeCert(ctx, jws);
  }
  auto jws = CA_TRY(Authenticate(ctx, req, KeyMode::kKidOnly));
  if (ctx.endpoint == "new-order") return NewOrder(ctx, jws);
  if (ctx.endpoint == "key-change") return KeyChange(ctx, jws);
  if (ctx.endpoint == "account") return AccountPost(ctx, jws, id);
  if (ctx.endpoint == "orders") return OrdersList(ctx, jws, id);
  if (ctx.endpoint == "order") return OrderPost(ctx, jws, id);
  if (ctx.endpoint == "finalize") return Finalize(ctx, jws, id);
  if (ctx.endpoint == "authz") return AuthzPost(ctx, jws, id);
  if (ctx.endpoint == "challenge") return ChallengePost(ctx, jws, id);
  return CertificatePost(ctx, jws, id);
}

HttpResponse AcmeServer::Json(int status, const json& body) const {
  HttpResponse r;
  r.status = status;
  // Compact (clients parse it; pretty-printing cost CPU and bytes on every response). Invalid UTF-8
  // (a problem detail can quote the request path) is replaced rather than thrown.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Directory, nonces

AcmeServer::Outcome AcmeServer::Directory() {
  json meta = {{"externalAccountRequired", true}, {"caaIdentities", options_.caa_identities}};
  if (!options_.terms_of_service.empty()) meta["termsOfService"] = options_.terms_of_service;
  if (!options_.website.empty()) meta["website"] = options_.website;
  json profiles = json::object();
  for (const auto& [name, desc] : options_.profiles) profiles[name] = desc;
  meta["profiles"] = profiles;
  json dir = {{"newNonce", Url("/acme/new-nonce")},   {"newAccount", Url("/acme/new-account")},
              {"newOrder", Url("/acme/new-order")},   {"revokeCert", Url("/acme/revoke-cert")},
              {"keyChange", Url("/acme/key-change")}, {"renewalInfo", Url("/acme/renewal-info")},
              {"meta", meta}};
  return Json(200, dir);
}

AcmeServer::Outcome AcmeServer::NewNonce(const HttpRequest& request) {
  HttpResponse r;
  r.status = request.method == "HEAD" ? 200 : 204;
  return r;
}

// ---------------------------------------------------------------------------------------------
// JWS authentication

ProblemOr<Jws> AcmeServer::Authenticate(Ctx& ctx, const HttpRequest& req, KeyMode mode) {
  if (req.body_too_large)
    return Err(ProblemKind::kPayloadTooLarge,
               "request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes");
  std::string ct = req.content_type.substr(0, req.content_type.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  ct = AsciiLower(ct);
  if (ct != kJose) return Err(ProblemKind::kUnsupportedMediaType, "Content-Type must be application/jose+json");
  auto jws = CA_TRY(ParseJws(req.body));

  if (std::find(SupportedJwsAlgorithms().begin(), SupportedJwsAlgorithms().end(), jws.alg) ==
      SupportedJwsAlgorithms().end())
    return Err(ProblemKind::kBadSignatureAlgorithm, "JWS algorithm \"" + jws.alg + "\" is not accepted");

  auto url = jws.header.find("url");
  if (url == jws.header.end() || !url->is_string())
    return Err(ProblemKind::kMalformed, "JWS protected header has no url");
  if (url->get<std::string>() != Url(req.path))
    return Err(ProblemKind::kUnauthorized, "JWS url \"" + url->get<std::string>() +
                                                "\" does not match the request URL " + Url(req.path));

  auto nonce = jws.header.find("nonce");
  if (nonce == jws.header.end() || !nonce->is_string())
    return Err(ProblemKind::kBadNonce, "JWS protected header has no nonce");
  NonceCheck check = nonces_.Consume(nonce->get<std::string>(), clock_());
  if (check != NonceCheck::kOk)
    return Err(ProblemKind::kBadNonce, "nonce " + std::string(NonceCheckName(check)));

  const bool has_jwk = jws.header.contains("jwk");
  const bool has_kid = jws.header.contains("kid");
  if (has_jwk == has_kid)
    return Err(ProblemKind::kMalformed, "the JWS protected header must have exactly one of jwk and kid");
  if (mode == KeyMode::kJwkOnly && !has_jwk)
    return Err(ProblemKind::kMalformed, "this request must be signed with a jwk, not a kid");
  if (mode == KeyMode::kKidOnly && !has_kid)
    return Err(ProblemKind::kMalformed, "this request must be signed with the account kid, not a jwk");

  if (has_jwk) {
    auto key = CA_TRY(PublicKeyFromJwk(jws.header["jwk"]));
    CA_TRY_STATUS(VerifyJwsSignature(jws, key.get()));
    ctx.jwk = jws.header["jwk"];
    return jws;
  }
  if (!jws.header["kid"].is_string()) return Err(ProblemKind::kMalformed, "kid must be a string");
  std::string kid = jws.header["kid"].get<std::string>();
  std::string prefix = Url("/acme/acct/");
  std::string id;
  if (!kid.starts_with(prefix) || !ValidId(id = kid.substr(prefix.size())))
    return Err(ProblemKind::kAccountDoesNotExist, "kid is not an account URL of this server");
  auto txn = store_.Read();
  if (!txn) return Internal(txn.error());
  auto account = txn->GetAccount(id);
  if (!account) return Internal(account.error());
  if (!*account) return Err(ProblemKind::kAccountDoesNotExist, "no account " + kid);
  AccountKeyCache::Key key = account_keys_.Find((*account)->jwk_thumbprint);
  if (!key) {
    auto jwk = txn->GetAccountKey(id);
    if (!jwk) return Internal(jwk.error());
    if (!*jwk) return Internal(Error{ErrorCode::kCorrupt, "account " + id + " has no key"});
    auto imported = CA_TRY(PublicKeyFromJwk(**jwk));
    // Cached under its thumbprint only when the record names exactly this key.
    auto thumbprint = JwkThumbprint(**jwk);
    if (thumbprint && *thumbprint == (*account)->jwk_thumbprint)
      key = account_keys_.Insert(*thumbprint, imported.release());
    else
      key = AccountKeyCache::Key(imported.release(), EVP_PKEY_free);
  }
  CA_TRY_STATUS(VerifyJwsSignature(jws, key.get()));
  ctx.account = std::move(**account);
  CA_TRY_STATUS(RequireAccountStatus(*ctx.account));
  return jws;
}

ProblemOr<void> AcmeServer::RequireAccountStatus(const AccountRecord& account) {
  if (account.status == "deactivated")
    return Err(ProblemKind::kUnauthorized, "DEACTIVATED_ACCOUNT: account " + account.id + " is deactivated");
  if (account.status == "revoked")
    return Err(ProblemKind::kUnauthorized, "REVOKED_ACCOUNT: account " + account.id + " is revoked");
  return {};
}

ProblemOr<json> AcmeServer::PayloadObject(const Jws& jws) {
  if (jws.PostAsGet()) return Err(ProblemKind::kMalformed, "this request needs a JSON payload");
  auto parsed = ParseBoundedJson(AsString(jws.payload));
  if (!parsed || !parsed->is_object()) return Err(ProblemKind::kMalformed, "JWS payload is not a JSON object");
  return std::move(*parsed);
}

// ---------------------------------------------------------------------------------------------
// Accounts

namespace {
ProblemOr<std::vector<std::string>> ParseContacts(const json& payload) {
  std::vector<std::string> out;
  auto it = payload.find("contact");
  if (it == payload.end()) return out;
  if (!it->is_array()) return Err(ProblemKind::kMalformed, "contact must be an array of URLs");
  if (it->size() > 10) return Err(ProblemKind::kInvalidContact, "at most 10 contacts");
  for (const auto& c : *it) {
    if (!c.is_string()) return Err(ProblemKind::kMalformed, "contact entries must be strings");
    std::string s = c.get<std::string>();
    if (!s.starts_with("mailto:")) return Err(ProblemKind::kUnsupportedContact, "only mailto: contacts are supported: " + s);
    std::string addr = s.substr(7);
    auto at = addr.find('@');
    if (addr.empty() || addr.size() > 254 || at == std::string::npos || at == 0 || at + 1 >= addr.size() ||
        addr.find_first_of(",?&% <>\"\r\n") != std::string::npos || addr.find('@', at + 1) != std::string::npos ||
        addr.find('.', at) == std::string::npos)
      return Err(ProblemKind::kInvalidContact, "invalid mailto: contact \"" + s + "\"");
    out.push_back(s);
  }
  return out;
}
}  // namespace

json AcmeServer::AccountJson(const AccountRecord& a) const {
  return {{"status", a.status},
          {"contact", a.contact},
          {"orders", Url("/acme/acct/" + a.id + "/orders")},
          {"createdAt", Rfc3339(a.created_at)}};
}

AcmeServer::Outcome AcmeServer::NewAccount(Ctx& ctx, const Jws& jws) {
  auto payload = CA_TRY(PayloadObject(jws));
  const json& jwk = ctx.jwk;
  auto thumbprint = CA_TRY(JwkThumbprint(jwk));
  {
    auto txn = store_.Read();
    if (!txn) return Internal(txn.error());
    auto existing = txn->FindAccountByThumbprint(thumbprint);
    if (!existing) return Internal(existing.error());
    if (*existing) {
      auto acct = txn->GetAccount(**existing);
      if (!acct) return Internal(acct.error());
      if (!*acct) return Internal(Error{ErrorCode::kCorrupt, "key index points to a missing account"});
      CA_TRY_STATUS(RequireAccountStatus(**acct));
      ctx.account = **acct;
      HttpResponse r = Json(200, AccountJson(**acct));
      r.headers.push_back({"Location", Url("/acme/acct/" + (*acct)->id)});
      return r;
    }
  }
  auto only_existing = payload.find("onlyReturnExisting");
  if (only_existing != payload.end() && only_existing->is_boolean() && only_existing->get<bool>())
    return Err(ProblemKind::kAccountDoesNotExist, "no account exists for this key");
  auto contacts = CA_TRY(ParseContacts(payload));
  auto tos = payload.find("termsOfServiceAgreed");
  if (tos != payload.end() && !tos->is_boolean()) return Err(ProblemKind::kMalformed, "termsOfServiceAgreed must be a boolean");

  // External Account Binding (RFC 8555 §7.3.4).
  auto eab_it = payload.find("externalAccountBinding");
  if (eab_it == payload.end())
    return Err(ProblemKind::kExternalAccountRequired, "this server requires an externalAccountBinding");
  if (!eab_it->is_object()) return Err(ProblemKind::kMalformed, "externalAccountBinding must be a flattened JWS object");
  auto eab = CA_TRY(ParseJws(eab_it->dump()));
  if (eab.alg != "HS256" && eab.alg != "HS384" && eab.alg != "HS512")
    return Err(ProblemKind::kMalformed, "externalAccountBinding must use a MAC algorithm (HS256), not \"" + eab.alg + "\"");
  if (eab.alg != "HS256") return Err(ProblemKind::kMalformed, "externalAccountBinding alg must be HS256");
  if (eab.header.contains("nonce")) return Err(ProblemKind::kMalformed, "externalAccountBinding must not contain a nonce");
  if (eab.header.contains("jwk")) return Err(ProblemKind::kMalformed, "externalAccountBinding must not contain a jwk");
  if (!eab.header.contains("url") || eab.header["url"] != Url("/acme/new-account"))
    return Err(ProblemKind::kMalformed, "externalAccountBinding url must be the newAccount URL");
  if (!eab.header.contains("kid") || !eab.header["kid"].is_string() || eab.header["kid"].get<std::string>().empty())
    return Err(ProblemKind::kMalformed, "externalAccountBinding has no kid");
  std::string ext_kid = eab.header["kid"].get<std::string>();
  auto inner_jwk = ParseBoundedJson(AsString(eab.payload));
  if (!inner_jwk || !inner_jwk->is_object())
    return Err(ProblemKind::kMalformed, "externalAccountBinding payload must be the account JWK");
  auto inner_tp = JwkThumbprint(*inner_jwk);
  if (!inner_tp || *inner_tp != thumbprint)
    return Err(ProblemKind::kMalformed, "externalAccountBinding payload is not the key that signed the request");

  int64_t now = clock_();
  auto ext = policy_.FindExternalAccount(ext_kid, now);
  if (!ext) return Internal(ext.error());
  if (!*ext) return std::unexpected(ProblemForResultCode("EXTERNAL_ACCOUNT_NOT_FOUND", ext_kid, ""));
  if (!(*ext)->refusal_code.empty())
    return std::unexpected(ProblemForResultCode((*ext)->refusal_code, ext_kid, ""));
  auto mac = policy_.MacKey(ext_kid);
  if (!mac) return Internal(mac.error());
  if (!VerifyHs256(eab, std::span(mac->data(), mac->size())))
    return Err(ProblemKind::kUnauthorized, "BAD_SIGNATURE: externalAccountBinding MAC does not verify for " + ext_kid);
  if ((*ext)->allowed_profiles.empty())
    return Err(ProblemKind::kUnauthorized, "PROFILE_NOT_ALLOWED: external account " + ext_kid + " allows no profile");

  AccountRecord account;
  account.id = NewId();
  account.external_account_kid = ext_kid;
  account.profile = (*ext)->allowed_profiles.front();
  account.status = "valid";
  account.created_at = now;
  account.contact = std::move(contacts);
  account.jwk_thumbprint = thumbprint;

  std::optional<Problem> refusal;
  Status written = store_.Write([&](StoreTxn& txn) -> Status {
    refusal.reset();
    size_t count = CA_TRY(txn.CountAccountsOfExternal(ext_kid));
    if (count >= (*ext)->max_acme_accounts) {
      refusal = MakeProblem(ProblemKind::kUnauthorized, "external account " + ext_kid + " already has " +
                                                            std::to_string(count) + " ACME accounts (its limit)");
      return {};
    }
    return txn.CreateAccount(account, jwk);  // an error discards whatever it wrote
  });
  if (!written) {
    if (written.error().code == ErrorCode::kAlreadyExists)
      return Err(ProblemKind::kConflict, "this key was bound to an account concurrently; retry");
    return Internal(written.error());
  }
  if (refusal) return std::unexpected(*refusal);
  ctx.account = account;
  log::Info("account_created", {{"account", account.id}, {"external_account", ext_kid}, {"profile", account.profile}});
  HttpResponse r = Json(201, AccountJson(account));
  r.headers.push_back({"Location", Url("/acme/acct/" + account.id)});
  return r;
}

AcmeServer::Outcome AcmeServer::AccountPost(Ctx& ctx, const Jws& jws, const std::string& id) {
  if (ctx.account->id != id) return Err(ProblemKind::kUnauthorized, "the kid is not the account being addressed");
  if (jws.PostAsGet()) {
    HttpResponse r = Json(200, AccountJson(*ctx.account));
    r.headers.push_back({"Location", Url("/acme/acct/" + id)});
    return r;
  }
  auto payload = CA_TRY(PayloadObject(jws));
  const bool deactivate = payload.contains("status");
  if (deactivate && payload["status"] != "deactivated")
    return Err(ProblemKind::kMalformed, "the only status a client may set is \"deactivated\"");
  std::optional<std::vector<std::string>> contacts;
  if (payload.contains("contact")) contacts = CA_TRY(ParseContacts(payload));
  AccountRecord account;
  std::optional<Problem> refusal;
  Status written = store_.Write([&](StoreTxn& txn) -> Status {
    refusal.reset();
    auto current = CA_TRY(txn.GetAccount(id));
    if (!current) {
      refusal = MakeProblem(ProblemKind::kAccountDoesNotExist, "no account " + id);
      return {};
    }
    account = std::move(*current);
    if (auto standing = RequireAccountStatus(account); !standing) {
      refusal = standing.error();
      return {};
    }
    if (deactivate) account.status = "deactivated";
    if (contacts) account.contact = *contacts;
    return txn.PutAccount(account);
  });
  if (!written) return Internal(written.error());
  if (refusal) return std::unexpected(*refusal);
  if (account.status == "deactivated") {
    account_keys_.Erase(account.jwk_thumbprint);
    log::Info("account_deactivated", {{"account", id}});
  }
  ctx.account = account;
  HttpResponse r = Json(200, AccountJson(account));
  r.headers.push_back({"Location", Url("/acme/acct/" + id)});
  return r;
}

AcmeServer::Outcome AcmeServer::OrdersList(Ctx& ctx, const Jws& jws, const std::string& id) {
  if (ctx.account->id != id) return Err(ProblemKind::kUnauthorized, "the orders list belongs to another account");
  if (!jws.PostAsGet()) return Err(ProblemKind::kMalformed, "the orders list is read with POST-as-GET");
  auto txn = store_.Read();
  if (!txn) return Internal(txn.error());
  auto ids = txn->ListOrderIds(id);
  if (!ids) return Internal(ids.error());
  json urls = json::array();
  for (const auto& oid : *ids) urls.push_back(Url("/acme/order/" + oid));
  return Json(200, {{"orders", urls}});
}

AcmeServer::Outcome AcmeServer::KeyChange(Ctx& ctx, const Jws& jws) {
  auto outer_payload = std::string(AsString(jws.payload));
  if (jws.PostAsGet()) return Err(ProblemKind::kMalformed, "keyChange needs an inner JWS payload");
  auto inner = CA_TRY(ParseJws(outer_payload));
  if (!inner.header.contains("jwk")) return Err(ProblemKind::kMalformed, "the inner JWS must carry the new key as jwk");
  if (inner.header.contains("kid")) return Err(ProblemKind::kMalformed, "the inner JWS must not carry a kid");
  if (inner.header.contains("nonce")) return Err(ProblemKind::kMalformed, "the inner JWS must not carry a nonce");
  if (!inner.header.contains("url") || inner.header["url"] != jws.header["url"])
    return Err(ProblemKind::kMalformed, "the inner JWS url must equal the outer url");
  if (std::find(SupportedJwsAlgorithms().begin(), SupportedJwsAlgorithms().end(), inner.alg) ==
      SupportedJwsAlgorithms().end())
    return Err(ProblemKind::kBadSignatureAlgorithm, "inner JWS algorithm \"" + inner.alg + "\" is not accepted");
  auto new_key = CA_TRY(PublicKeyFromJwk(inner.header["jwk"]));
  CA_TRY_STATUS(VerifyJwsSignature(inner, new_key.get()));
  auto payload = ParseBoundedJson(AsString(inner.payload));
  if (!payload || !payload->is_object()) return Err(ProblemKind::kMalformed, "inner JWS payload is not a JSON object");
  if (!payload->contains("account") || (*payload)["account"] != jws.header["kid"])
    return Err(ProblemKind::kMalformed, "inner payload account must equal the outer kid");
  if (!payload->contains("oldKey")) return Err(ProblemKind::kMalformed, "inner payload has no oldKey");
  auto old_tp = JwkThumbprint((*payload)["oldKey"]);
  if (!old_tp || *old_tp != ctx.account->jwk_thumbprint)
    return Err(ProblemKind::kMalformed, "oldKey is not the account's current key");
  auto new_tp = CA_TRY(JwkThumbprint(inner.header["jwk"]));

  std::optional<Problem> refusal;
  Status written = store_.Write([&](StoreTxn& txn) -> Status {
    refusal.reset();
    auto holder = CA_TRY(txn.FindAccountByThumbprint(new_tp));
    if (holder) {
      refusal = MakeProblem(ProblemKind::kConflict, "the new key is already in use by an account");
      refusal->location = Url("/acme/acct/" + *holder);
      return {};
    }
    auto current = CA_TRY(txn.GetAccount(ctx.account->id));
    if (!current) return Fail(ErrorCode::kCorrupt, "account vanished");
    if (current->jwk_thumbprint != *old_tp) {
      refusal = MakeProblem(ProblemKind::kMalformed, "oldKey is not the account's current key");
      return {};
    }
    return txn.ChangeAccountKey(*current, new_tp, inner.header["jwk"]);
  });
  if (!written) return Internal(written.error());
  if (refusal) return std::unexpected(*refusal);
  account_keys_.Erase(*old_tp);
  log::Info("account_key_changed", {{"account", ctx.account->id}});
  ctx.account->jwk_thumbprint = new_tp;
  HttpResponse r = Json(200, AccountJson(*ctx.account));
  r.headers.push_back({"Location", Url("/acme/acct/" + ctx.account->id)});
  return r;
}

// ---------------------------------------------------------------------------------------------
// Orders

json AcmeServer::OrderJson(const OrderRecord& o) const {
  json ids = json::array();
  for (const auto& n : o.names) ids.push_back({{"type", "dns"}, {"value", n}});
  json authzs = json::array();
  for (const auto& a : o.authz_ids) authzs.push_back(Url("/acme/authz/" + a));
  json j = {{"status", o.status},
            {"expires", Rfc3339(o.expires)},
            {"identifiers", ids},
            {"authorizations", authzs},
            {"finalize", Url("/acme/order/" + o.id + "/finalize")},
            {"profile", o.profile}};
  if (!o.error.is_null()) j["error"] = o.error;
  if (o.status == "valid" && !o.serial_hex.empty()) j["certificate"] = Url("/acme/cert/" + o.serial_hex);
  return j;
}

// Applies time-driven transitions (expiry) and derives pending → ready from the authorizations.
Result<OrderRecord> AcmeServer::RefreshOrder(StoreTxn& txn, OrderRecord order, bool* changed) const {
  int64_t now = clock_();
  *changed = false;
  if ((order.status == "pending" || order.status == "ready") && now > order.expires) {
    order.status = "invalid";
    order.error = ProblemToJson(MakeProblem(ProblemKind::kMalformed, "the order expired"));
    *changed = true;
    return order;
  }
  if (order.status != "pending") return order;
  bool all_valid = true;
  for (const auto& aid : order.authz_ids) {
    auto authz = CA_TRY(txn.GetAuthz(aid));
    if (!authz) return Fail(ErrorCode::kCorrupt, "order " + order.id + " lacks authorization " + aid);
    std::string status = authz->status;
    if (status == "pending" && now > authz->expires) status = "expired";
    if (status == "valid" && now > authz->expires) status = "expired";
    if (status != "valid") all_valid = false;
    if (status == "invalid" || status == "deactivated" || status == "expired" || status == "revoked") {
      order.status = "invalid";
      if (order.error.is_null()) {
        order.error = ProblemToJson(MakeProblem(ProblemKind::kUnauthorized,
                                                "authorization for " + authz->name + " is " + status));
      }
      *changed = true;
      return order;
    }
  }
  if (all_valid) {
    order.status = "ready";
    *changed = true;
  }
  return order;
}

Result<std::optional<OrderRecord>> AcmeServer::CurrentOrder(const std::string& id) {
  std::optional<OrderRecord> order;
  bool changed = false;
  {
    auto txn = CA_TRY(store_.Read());
    auto stored = CA_TRY(txn.GetOrder(id));
    if (!stored) return order;
    order = CA_TRY(RefreshOrder(txn, std::move(*stored), &changed));
  }
  if (!changed) return order;
  // Derived from a snapshot: derive again from the state the write sees.
  CA_TRY_STATUS(store_.Write([&](StoreTxn& txn) -> Status {
    auto stored = CA_TRY(txn.GetOrder(id));
    if (!stored) return Fail(ErrorCode::kCorrupt, "order " + id + " vanished");
    bool still_changed = false;
    order = CA_TRY(RefreshOrder(txn, std::move(*stored), &still_changed));
    return still_changed ? txn.PutOrder(*order) : Status{};
  }));
  return order;
}

AcmeServer::Outcome AcmeServer::NewOrder(Ctx& ctx, const Jws& jws) {
  auto payload = CA_TRY(PayloadObject(jws));
  const AccountRecord& account = *ctx.account;
  if (payload.contains("notBefore") || payload.contains("notAfter"))
    return Err(ProblemKind::kMalformed, "notBefore/notAfter are not supported: validity comes from the profile");
  auto ids = payload.find("identifiers");
  if (ids == payload.end() || !ids->is_array() || ids->empty())
    return Err(ProblemKind::kMalformed, "identifiers must be a non-empty array");
  if (ids->size() > options_.max_identifiers)
    return Err(ProblemKind::kRejectedIdentifier, "at most " + std::to_string(options_.max_identifiers) + " identifiers per order");
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& id : *ids) {
    if (!id.is_object() || !id.contains("type") || !id.contains("value") || !id["type"].is_string() || !id["value"].is_string())
      return Err(ProblemKind::kMalformed, "each identifier needs string type and value");
    if (id["type"] != "dns") {
      Problem p = MakeProblem(ProblemKind::kUnsupportedIdentifier, "only dns identifiers are supported");
      return std::unexpected(p);
    }
    std::string value = id["value"].get<std::string>();
    std::string lowered = AsciiLower(value);
    if (seen.insert(lowered).second) names.push_back(lowered);
  }
  int64_t now = clock_();
  // The profile: the account's effective profile; a requested one must equal it.
  auto standing = policy_.Decide(account, {}, account.profile, now);
  if (!standing) return Internal(standing.error());
  std::string profile = standing->profile.empty() ? account.profile : standing->profile;
  if (payload.contains("profile")) {
    if (!payload["profile"].is_string()) return Err(ProblemKind::kMalformed, "profile must be a string");
    std::string requested = payload["profile"].get<std::string>();
    if (requested != profile)
      return Err(ProblemKind::kInvalidProfile, "PROFILE_NOT_ALLOWED: this account's profile is " + profile +
                                                   ", not \"" + requested + "\"");
  }
  auto verdict = policy_.Decide(account, names, profile, now);
  if (!verdict) return Internal(verdict.error());
  if (!verdict->allowed) {
    ctx.log["policy_version"] = verdict->policy_version;
    return std::unexpected(ProblemForResultCode(verdict->result_code, verdict->name, verdict->detail));
  }
  auto ext = policy_.FindExternalAccount(account.external_account_kid, now);
  if (!ext) return Internal(ext.error());
  if (!*ext) return std::unexpected(ProblemForResultCode("EXTERNAL_ACCOUNT_NOT_FOUND", account.external_account_kid, ""));

  OrderRecord order;
  order.id = NewId();
  order.account_id = account.id;
  order.external_account_kid = account.external_account_kid;
  order.status = "pending";
  order.created_at = now;
  order.expires = now + options_.order_lifetime_seconds;
  order.names = names;
  order.profile = profile;
  order.request_id = RandomUuidV4();
  std::vector<AuthzRecord> authzs;
  std::vector<ChallengeRecord> challenges;
  for (const auto& name : names) {
    AuthzRecord a;
    a.id = NewId();
    a.account_id = account.id;
    a.order_id = order.id;
    a.wildcard = name.starts_with("*.");
    a.name = a.wildcard ? name.substr(2) : name;
    a.status = "pending";
    a.expires = std::min(order.expires, now + options_.authz_lifetime_seconds);
    for (const auto& type : (*ext)->allowed_challenges) {
      if (a.wildcard && type != "dns-01") continue;
      ChallengeRecord c;
      c.id = NewId();
      c.authz_id = a.id;
      c.account_id = account.id;
      c.type = type;
      c.token = Base64UrlEncode(RandomBytes(32));
      c.status = "pending";
      a.challenge_ids.push_back(c.id);
      challenges.push_back(std::move(c));
    }
    if (a.challenge_ids.empty())
      return std::unexpected(ProblemForResultCode("UNAUTHORIZED_DOMAIN", name,
                                                  "no challenge type usable for this identifier is allowed for the external account"));
    order.authz_ids.push_back(a.id);
    authzs.push_back(std::move(a));
  }

  bool rate_limited = false;
  Status written = store_.Write([&](StoreTxn& txn) -> Status {
    size_t recent = CA_TRY(txn.CountOrdersSince(account.id, now - 3600));
    rate_limited = recent >= (*ext)->orders_per_hour;
    if (rate_limited) return {};
    for (const auto& c : challenges) CA_TRY_STATUS(txn.PutChallenge(c));
    for (const auto& a : authzs) CA_TRY_STATUS(txn.PutAuthz(a));
    return txn.PutOrder(order);
  });
  if (!written) return Internal(written.error());
  if (rate_limited) {
    Problem p = MakeProblem(ProblemKind::kRateLimited, "RATE_LIMITED: at most " + std::to_string((*ext)->orders_per_hour) +
                                                           " orders per hour for this account");
    p.retry_after_seconds = 3600;
    return std::unexpected(p);
  }
  ctx.log["order"] = order.id;
  ctx.log["policy_version"] = verdict->policy_version;
  log::Info("order_created", {{"account", account.id}, {"order", order.id}, {"names", names}, {"profile", profile}});
  HttpResponse r = Json(201, OrderJson(order));
  r.headers.push_back({"Location", Url("/acme/order/" + order.id)});
  return r;
}

AcmeServer::Outcome AcmeServer::OrderPost(Ctx& ctx, const Jws& jws, const std::string& id) {
  if (!jws.PostAsGet()) return Err(ProblemKind::kMalformed, "orders are read with POST-as-GET");
  auto refreshed = CurrentOrder(id);
  if (!refreshed) return Internal(refreshed.error());
  if (!*refreshed || (*refreshed)->account_id != ctx.account->id) return Err(ProblemKind::kNotFound, "no such order");
  ctx.log["order"] = id;
  HttpResponse r = Json(200, OrderJson(**refreshed));
  r.headers.push_back({"Location", Url("/acme/order/" + id)});
  if ((*refreshed)->status == "processing") r.headers.push_back({"Retry-After", "1"});
  return r;
}

AcmeServer::Outcome AcmeServer::Finalize(Ctx& ctx, const Jws& jws, const std::string& id) {
  auto payload = CA_TRY(PayloadObject(jws));
  ctx.log["order"] = id;
  const AccountRecord& account = *ctx.account;
  if (!payload.contains("csr") || !payload["csr"].is_string()) return Err(ProblemKind::kMalformed, "finalize needs a csr");
  auto csr_der = Base64UrlDecode(payload["csr"].get<std::string>());
  if (!csr_der) return Err(ProblemKind::kBadCsr, "csr is not base64url");

  OrderRecord order;
  {
    auto current = CurrentOrder(id);
    if (!current) return Internal(current.error());
    if (!*current || (*current)->account_id != account.id) return Err(ProblemKind::kNotFound, "no such order");
    order = std::move(**current);
  }
  if (order.status != "ready")
    return Err(ProblemKind::kOrderNotReady, "order is " + order.status + ", not ready");

  auto csr = CA_TRY(CheckCsr(*csr_der, order.names));
  (void)csr;
  int64_t now = clock_();
  auto verdict = policy_.Decide(account, order.names, order.profile, now);
  if (!verdict) return Internal(verdict.error());
  if (!verdict->allowed) return std::unexpected(ProblemForResultCode(verdict->result_code, verdict->name, verdict->detail));

  // CAA again for authorizations whose CAA check is older than the recheck age.
  std::vector<AuthzRecord> stale;
  {
    auto txn = store_.Read();
    if (!txn) return Internal(txn.error());
    for (const auto& aid : order.authz_ids) {
      auto a = txn->GetAuthz(aid);
      if (!a || !*a) return Internal(a ? Error{ErrorCode::kCorrupt, "missing authz"} : a.error());
      if (now - (*a)->caa_checked_at > options_.caa_recheck_seconds) stale.push_back(**a);
    }
  }
  std::vector<Subproblem> caa_failures;
  for (auto& a : stale) {
    auto result = validator_.CheckCaa(a.name, a.wildcard, Url("/acme/acct/" + account.id), "");
    if (result.status == ValidationResult::Status::kValid) {
      a.caa_checked_at = now;
    } else if (result.status == ValidationResult::Status::kUnavailable) {
      Problem p = MakeProblem(ProblemKind::kUnavailable, "INVALID_DNSCAA: CAA for " + a.name + " could not be checked: " + result.detail);
      p.retry_after_seconds = 10;
      return std::unexpected(p);
    } else {
      caa_failures.push_back({ProblemKind::kCaa, "INVALID_DNSCAA: " + result.detail, (a.wildcard ? "*." : "") + a.name});
    }
  }
  if (!caa_failures.empty()) {
    Problem p = MakeProblem(ProblemKind::kCaa, "INVALID_DNSCAA: " + caa_failures.front().dns_name + ": CAA forbids issuance");
    p.subproblems = caa_failures;
    return std::unexpected(p);
  }

  // ready → processing, atomically: of concurrent finalize requests only one gets here.
  {
    std::string found_status;
    Status written = store_.Write([&](StoreTxn& txn) -> Status {
      auto stored = CA_TRY(txn.GetOrder(id));
      if (!stored) return Fail(ErrorCode::kCorrupt, "order vanished");
      found_status = stored->status;
      if (found_status != "ready") return {};
      stored->status = "processing";
      order = std::move(*stored);
      for (const auto& a : stale) CA_TRY_STATUS(txn.PutAuthz(a));
      return txn.PutOrder(order);
    });
    if (!written) return Internal(written.error());
    if (found_status != "ready") return Err(ProblemKind::kOrderNotReady, "order is " + found_status + ", not ready");
  }

  engine_api::IssueRequest issue;
  issue.request_id = order.request_id;
  issue.order_id = order.id;
  issue.acme_account_id = account.id;
  issue.external_account_kid = account.external_account_kid;
  issue.profile = order.profile;
  issue.names = order.names;
  issue.csr_der = *csr_der;
  issue.policy_version = verdict->policy_version;
  issue.environment = options_.environment == "staging" ? engine_api::CaEnvironment::kStaging
                                                        : engine_api::CaEnvironment::kProduction;
  auto answer = issuer_.Call(issue);

  auto finish = [&](const std::string& status, const json& error, const std::optional<engine_api::IssueResponse>& issued) -> Status {
    return store_.Write([&](StoreTxn& txn) -> Status {
      auto stored = CA_TRY(txn.GetOrder(id));
      if (!stored) return Fail(ErrorCode::kCorrupt, "order vanished");
      stored->status = status;
      stored->error = error;
      if (issued) {
        stored->serial_hex = NormalizeSerial(issued->serial_hex);
        CertRecord cert{stored->serial_hex, account.id, account.external_account_kid, order.id,
                        issued->chain_pem, issued->not_before, issued->not_after, false, 0};
        CA_TRY_STATUS(txn.PutCert(cert));
      }
      CA_TRY_STATUS(txn.PutOrder(*stored));
      order = std::move(*stored);
      return {};
    });
  };

  if (!answer) {
    // Transport failure: the engine may or may not have signed. Back to ready; a retried finalize
    // reuses request_id, so the engine returns the same certificate if it did.
    if (auto s = finish("ready", json(), std::nullopt); !s) return Internal(s.error());
    log::Warn("engine_unavailable", {{"order", id}, {"error", answer.error().ToString()}});
    Problem p = MakeProblem(ProblemKind::kUnavailable, "ACME_CA_ERROR: the signing engine is unavailable, retry finalize");
    p.retry_after_seconds = 5;
    return std::unexpected(p);
  }
  if (auto* err = std::get_if<engine_api::EngineError>(&*answer)) {
    Problem p = ProblemForEngineError(*err);
    if (err->kind == engine_api::EngineErrorKind::kUnavailable) {
      if (auto s = finish("ready", json(), std::nullopt); !s) return Internal(s.error());
      return std::unexpected(p);
    }
    if (auto s = finish("invalid", ProblemToJson(p), std::nullopt); !s) return Internal(s.error());
    log::Warn("issuance_refused", {{"order", id}, {"kind", engine_api::EngineErrorKindName(err->kind)}, {"result_code", err->result_code}});
    return std::unexpected(p);
  }
  auto* issued = std::get_if<engine_api::IssueResponse>(&*answer);
  if (issued == nullptr) {
    if (auto s = finish("ready", json(), std::nullopt); !s) return Internal(s.error());
    return Internal(Error{ErrorCode::kInternal, "engine answered issue with another message type"});
  }
  if (auto s = finish("valid", json(), *issued); !s) return Internal(s.error());
  ctx.log["serial"] = order.serial_hex;
  log::Info("certificate_issued", {{"account", account.id}, {"order", id}, {"serial", order.serial_hex}, {"names", order.names}});
  lifecycle_.CountIssued(order.profile);
  HttpResponse r = Json(200, OrderJson(order));
  r.headers.push_back({"Location", Url("/acme/order/" + id)});
  return r;
}

// ---------------------------------------------------------------------------------------------
// Authorizations and challenges

json AcmeServer::ChallengeJson(const ChallengeRecord& c) const {
  json j = {{"type", c.type}, {"url", Url("/acme/chall/" + c.id)}, {"status", c.status}, {"token", c.token}};
  if (c.validated_at != 0) j["validated"] = Rfc3339(c.validated_at);
  if (!c.error.is_null()) j["error"] = c.error;
  return j;
}

Result<json> AcmeServer::AuthzJson(const StoreTxn& txn, const AuthzRecord& a) const {
  std::string status = a.status;
  if ((status == "pending" || status == "valid") && clock_() > a.expires) status = "expired";
  json challenges = json::array();
  for (const auto& cid : a.challenge_ids) {
    auto c = CA_TRY(txn.GetChallenge(cid));
    if (!c) return Fail(ErrorCode::kCorrupt, "authorization " + a.id + " lacks challenge " + cid);
    challenges.push_back(ChallengeJson(*c));
  }
  json j = {{"identifier", {{"type", "dns"}, {"value", a.name}}},
            {"status", status},
            {"expires", Rfc3339(a.expires)},
            {"challenges", challenges}};
  if (a.wildcard) j["wildcard"] = true;
  return j;
}

AcmeServer::Outcome AcmeServer::AuthzPost(Ctx& ctx, const Jws& jws, const std::string& id) {
  auto txn = store_.Read();
  if (!txn) return Internal(txn.error());
  auto authz = txn->GetAuthz(id);
  if (!authz) return Internal(authz.error());
  if (!*authz || (*authz)->account_id != ctx.account->id) return Err(ProblemKind::kNotFound, "no such authorization");
  ctx.log["order"] = (*authz)->order_id;
  if (!jws.PostAsGet()) {
    auto payload = CA_TRY(PayloadObject(jws));
    if (payload.value("status", json()) != "deactivated")
      return Err(ProblemKind::kMalformed, "the only update of an authorization is {\"status\":\"deactivated\"}");
    std::string found_status;
    Status written = store_.Write([&](StoreTxn& wtxn) -> Status {
      auto current = CA_TRY(wtxn.GetAuthz(id));
      if (!current) return Fail(ErrorCode::kCorrupt, "authorization " + id + " vanished");
      found_status = current->status;
      if (found_status != "pending" && found_status != "valid") return {};
      current->status = "deactivated";
      CA_TRY_STATUS(wtxn.PutAuthz(*current));
      **authz = std::move(*current);
      auto order = wtxn.GetOrder((*authz)->order_id);
      if (order && *order) {
        bool changed = false;
        auto refreshed = RefreshOrder(wtxn, **order, &changed);
        if (refreshed && changed) CA_TRY_STATUS(wtxn.PutOrder(*refreshed));
      }
      return {};
    });
    if (!written) return Internal(written.error());
    if (found_status != "pending" && found_status != "valid")
      return Err(ProblemKind::kMalformed, "an authorization that is " + found_status + " cannot be deactivated");
    auto rtxn = store_.Read();
    if (!rtxn) return Internal(rtxn.error());
    auto body = AuthzJson(*rtxn, **authz);
    if (!body) return Internal(body.error());
    return Json(200, *body);
  }
  auto body = AuthzJson(*txn, **authz);
  if (!body) return Internal(body.error());
  HttpResponse r = Json(200, *body);
  if ((*authz)->status == "pending") {
    for (const auto& cid : (*authz)->challenge_ids) {
      auto c = txn->GetChallenge(cid);
      if (c && *c && (*c)->status == "processing") {
        r.headers.push_back({"Retry-After", "2"});
        break;
      }
    }
  }
  return r;
}

AcmeServer::Outcome AcmeServer::ChallengePost(Ctx& ctx, const Jws& jws, const std::string& id) {
  auto respond = [&](const ChallengeRecord& c) {
    HttpResponse r = Json(200, ChallengeJson(c));
    r.headers.push_back({"Link", "<" + Url("/acme/authz/" + c.authz_id) + ">;rel=\"up\""});
    if (c.status == "processing") r.headers.push_back({"Retry-After", "2"});
    return r;
  };
  ChallengeRecord c;
  {
    auto txn = store_.Read();
    if (!txn) return Internal(txn.error());
    auto chall = txn->GetChallenge(id);
    if (!chall) return Internal(chall.error());
    if (!*chall || (*chall)->account_id != ctx.account->id) return Err(ProblemKind::kNotFound, "no such challenge");
    c = std::move(**chall);
  }
  if (jws.PostAsGet()) return respond(c);
  auto payload = CA_TRY(PayloadObject(jws));
  (void)payload;  // RFC 8555 §7.5.1: an empty object; other members are ignored
  if (c.status != "pending") return respond(c);
  // Decided again inside the write, on the state it sees.
  std::optional<Problem> refusal;
  bool started = false;
  std::string order_id;
  Status written = store_.Write([&](StoreTxn& txn) -> Status {
    refusal.reset();
    started = false;
    auto current = CA_TRY(txn.GetChallenge(id));
    if (!current) return Fail(ErrorCode::kCorrupt, "challenge " + id + " vanished");
    c = std::move(*current);
    if (c.status != "pending") return {};
    auto authz = CA_TRY(txn.GetAuthz(c.authz_id));
    if (!authz) return Fail(ErrorCode::kCorrupt, "challenge without authz");
    int64_t now = clock_();
    if (authz->status != "pending" || now > authz->expires) {
      refusal = MakeProblem(ProblemKind::kMalformed, "the authorization is no longer pending");
      return {};
    }
    auto failures = CA_TRY(txn.CountFailedValidations(ctx.account->id, authz->name, now, 3600));
    if (failures.first >= static_cast<size_t>(options_.max_failed_validations_per_hour)) {
      Problem p = MakeProblem(ProblemKind::kRateLimited,
                              "RATE_LIMITED: " + std::to_string(failures.first) + " failed validations of " +
                                  authz->name + " by this account in the last hour");
      p.retry_after_seconds = static_cast<int>(std::max<int64_t>(1, failures.second + 3600 - now));
      p.subproblems.push_back({ProblemKind::kRateLimited, p.detail, authz->name});
      refusal = std::move(p);
      return {};
    }
    c.status = "processing";
    order_id = authz->order_id;
    started = true;
    return txn.PutChallenge(c);
  });
  if (!written) return Internal(written.error());
  if (refusal) return std::unexpected(*refusal);
  if (started) {
    ctx.log["order"] = order_id;
    Enqueue(c.id, 0);
  }
  return respond(c);
}

// ---------------------------------------------------------------------------------------------
// Validation workers

void AcmeServer::Enqueue(const std::string& challenge_id, int64_t not_before) {
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back({not_before, challenge_id});
  }
  queue_cv_.notify_one();
}

void AcmeServer::WaitForValidationsIdle() {
  std::unique_lock lock(queue_mu_);
  idle_cv_.wait(lock, [&] { return queue_.empty() && running_ == 0; });
}

void AcmeServer::WorkerLoop() {
  std::unique_lock lock(queue_mu_);
  while (true) {
    queue_cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    int64_t now = clock_();
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const auto& e) { return e.first <= now; });
    if (it == queue_.end()) continue;
    std::string id = it->second;
    queue_.erase(it);
    ++running_;
    lock.unlock();
    RunValidation(id);
    lock.lock();
    --running_;
    if (queue_.empty() && running_ == 0) idle_cv_.notify_all();
  }
}

void AcmeServer::RunValidation(const std::string& challenge_id) {
  std::optional<ChallengeRecord> chall;
  std::optional<AuthzRecord> authz;
  std::string thumbprint;
  {
    auto txn = store_.Read();
    if (!txn) return;
    auto c = txn->GetChallenge(challenge_id);
    if (!c || !*c || (*c)->status != "processing") return;
    auto a = txn->GetAuthz((*c)->authz_id);
    auto acct = txn->GetAccount((*c)->account_id);
    if (!a || !*a || !acct || !*acct) return;
    chall = **c;
    authz = **a;
    thumbprint = (*acct)->jwk_thumbprint;
  }
  const std::string account_uri = Url("/acme/acct/" + chall->account_id);
  ValidationResult result =
      validator_.ValidateChallenge(chall->type, authz->name, chall->token, chall->token + "." + thumbprint);
  if (result.status == ValidationResult::Status::kValid) {
    ValidationResult caa = validator_.CheckCaa(authz->name, authz->wildcard, account_uri, chall->type);
    if (caa.status != ValidationResult::Status::kValid) {
      result = caa;
      if (caa.status == ValidationResult::Status::kInvalid) {
        result.problem = ProblemKind::kCaa;
        result.detail = "INVALID_DNSCAA: " + caa.detail;
      }
    }
  }
  int64_t now = clock_();
  {
    std::lock_guard lock(metrics_mu_);
    const char* outcome = result.status == ValidationResult::Status::kValid     ? "valid"
                          : result.status == ValidationResult::Status::kInvalid ? "invalid"
                                                                                : "unavailable";
    ++validation_counts_[{chall->type, outcome}];
  }
  ChallengeRecord cr;
  AuthzRecord ar;
  bool requeue = false, applied = false;
  Status written = store_.Write([&](StoreTxn& txn) -> Status {
    applied = requeue = false;
    auto c = CA_TRY(txn.GetChallenge(challenge_id));
    auto a = CA_TRY(txn.GetAuthz(chall->authz_id));
    if (!c || !a || c->status != "processing") return {};
    cr = std::move(*c);
    ar = std::move(*a);
    cr.attempts += 1;
    if (result.status == ValidationResult::Status::kValid) {
      cr.status = "valid";
      cr.validated_at = now;
      ar.status = "valid";
      ar.validated_at = now;
      ar.caa_checked_at = now;
    } else if (result.status == ValidationResult::Status::kUnavailable && cr.attempts < options_.max_challenge_attempts) {
      requeue = true;  // transient: try again later, up to the attempt limit
    } else {
      Problem p = result.status == ValidationResult::Status::kUnavailable
                      ? MakeProblem(ProblemKind::kRateLimited,
                                    "RATE_LIMITED: " + authz->name + " could not be validated after " +
                                        std::to_string(cr.attempts) + " attempts: " + result.detail)
                      : MakeProblem(result.problem, result.detail);
      cr.status = "invalid";
      cr.error = ProblemToJson(p);
      ar.status = "invalid";
      CA_TRY_STATUS(txn.RecordFailedValidation(cr.account_id, ar.name, now));
    }
    CA_TRY_STATUS(txn.PutChallenge(cr));
    CA_TRY_STATUS(txn.PutAuthz(ar));
    auto order = txn.GetOrder(ar.order_id);
    if (order && *order) {
      bool changed = false;
      auto refreshed = RefreshOrder(txn, **order, &changed);
      if (refreshed && changed) {
        if (!refreshed->error.is_null() && !cr.error.is_null() && ar.status == "invalid") refreshed->error = cr.error;
        CA_TRY_STATUS(txn.PutOrder(*refreshed));
      }
    }
    applied = true;
    return {};
  });
  if (!written) {
    log::Error("validation_not_recorded", {{"challenge", challenge_id}, {"error", written.error().ToString()}});
    return;
  }
  if (!applied) return;
  log::Info("validation", {{"account", cr.account_id}, {"order", ar.order_id}, {"challenge", cr.id},
                           {"type", cr.type}, {"name", ar.name}, {"status", cr.status}, {"attempts", cr.attempts},
                           {"detail", result.detail}});
  if (requeue) Enqueue(challenge_id, now + options_.challenge_retry_seconds);
}

// ---------------------------------------------------------------------------------------------
// Certificates, revocation, renewal information

AcmeServer::Outcome AcmeServer::CertificatePost(Ctx& ctx, const Jws& jws, const std::string& serial) {
  if (!jws.PostAsGet()) return Err(ProblemKind::kMalformed, "certificates are downloaded with POST-as-GET");
  auto txn = store_.Read();
  if (!txn) return Internal(txn.error());
  auto cert = txn->GetCert(NormalizeSerial(serial));
  if (!cert) return Internal(cert.error());
  if (!*cert || (*cert)->account_id != ctx.account->id) return Err(ProblemKind::kNotFound, "no such certificate");
  ctx.log["serial"] = (*cert)->serial_hex;
  HttpResponse r;
  r.status = 200;
  r.body = (*cert)->chain_pem;
  r.headers.push_back({"Content-Type", "application/pem-certificate-chain"});
  return r;
}

AcmeServer::Outcome AcmeServer::RevokeCert(Ctx& ctx, const Jws& jws) {
  auto payload = CA_TRY(PayloadObject(jws));
  if (!payload.contains("certificate") || !payload["certificate"].is_string())
    return Err(ProblemKind::kMalformed, "revokeCert needs a certificate");
  auto der = Base64UrlDecode(payload["certificate"].get<std::string>());
  if (!der) return Err(ProblemKind::kMalformed, "certificate is not base64url");
  auto x509 = ossl::CertFromDer(*der);
  if (!x509) return Err(ProblemKind::kMalformed, "certificate is not a DER X.509 certificate");
  std::string serial = CertificateSerialHex(x509->get());
  ctx.log["serial"] = serial;

  int reason = 0;
  if (payload.contains("reason")) {
    if (!payload["reason"].is_number_integer()) return Err(ProblemKind::kBadRevocationReason, "reason must be an integer");
    reason = payload["reason"].get<int>();
  }
  static const std::set<int> kAllowed = {0, 1, 3, 4, 5, 9};
  if (!kAllowed.contains(reason))
    return Err(ProblemKind::kBadRevocationReason, "reason " + std::to_string(reason) +
                                                      " is not accepted (0, 1, 3, 4, 5, 9)");

  auto txn = store_.Read();
  if (!txn) return Internal(txn.error());
  auto record = txn->GetCert(serial);
  if (!record) return Internal(record.error());
  if (!*record) return Err(ProblemKind::kMalformed, "ACME_REQUEST_NOT_FOUND: this certificate was not issued by this server");
  auto chain = ossl::CertsFromPem((*record)->chain_pem);
  if (!chain || chain->empty()) return Internal(Error{ErrorCode::kCorrupt, "stored chain unreadable"});
  auto stored_der = ossl::CertToDer(chain->front().get());
  if (!stored_der || *stored_der != *der)
    return Err(ProblemKind::kMalformed, "the certificate differs from the one issued under this serial");

  std::string actor;
  bool signed_by_cert_key = false;
  if (ctx.account) {
    const AccountRecord& a = *ctx.account;
    if (a.id != (*record)->account_id && a.external_account_kid != (*record)->external_account_kid)
      return Err(ProblemKind::kUnauthorized, "this account may not revoke this certificate");
    auto standing = policy_.Decide(a, {}, a.profile, clock_());
    if (!standing) return Internal(standing.error());
    if (!standing->allowed) return std::unexpected(ProblemForResultCode(standing->result_code, standing->name, standing->detail));
    actor = "acme-account:" + a.id;
  } else {
    auto jwk_key = PublicKeyFromJwk(ctx.jwk);
    EVP_PKEY* cert_key = X509_get0_pubkey(x509->get());
    if (!jwk_key || cert_key == nullptr || EVP_PKEY_eq(jwk_key->get(), cert_key) != 1)
      return Err(ProblemKind::kUnauthorized, "the jwk is not the certificate's public key");
    uint32_t ku = X509_get_key_usage(x509->get());
    if ((ku & KU_DIGITAL_SIGNATURE) == 0)
      return Err(ProblemKind::kUnauthorized, "the certificate's keyUsage does not allow digitalSignature");
    signed_by_cert_key = true;
    actor = "cert-key";
  }
  if (reason == 1 && !signed_by_cert_key)
    return Err(ProblemKind::kBadRevocationReason, "keyCompromise must be requested with a JWS signed by the certificate key");
  if ((*record)->revoked) return Err(ProblemKind::kAlreadyRevoked, "certificate " + serial + " is already revoked");

  engine_api::RevokeRequest rr;
  rr.serial_hex = (*record)->serial_hex;
  rr.reason = static_cast<engine_api::RevocationReason>(reason);
  rr.actor = actor;
  rr.environment = options_.environment == "staging" ? engine_api::CaEnvironment::kStaging
                                                     : engine_api::CaEnvironment::kProduction;
  auto answer = issuer_.Call(rr);
  if (!answer) {
    Problem p = MakeProblem(ProblemKind::kUnavailable, "ACME_CA_ERROR: the signing engine is unavailable");
    p.retry_after_seconds = 5;
    return std::unexpected(p);
  }
  if (auto* err = std::get_if<engine_api::EngineError>(&*answer)) {
    if (err->kind != engine_api::EngineErrorKind::kAlreadyRevoked) return std::unexpected(ProblemForEngineError(*err));
  } else if (auto* rev = std::get_if<engine_api::RevokeResponse>(&*answer); rev == nullptr) {
    return Internal(Error{ErrorCode::kInternal, "engine answered revoke with another message type"});
  } else if (!rev->newly_revoked) {
    return Err(ProblemKind::kAlreadyRevoked, "certificate " + serial + " is already revoked");
  }
  Status written = store_.Write([&](StoreTxn& wtxn) -> Status {
    auto current = CA_TRY(wtxn.GetCert(serial));
    if (!current) return {};
    current->revoked = true;
    current->reason = reason;
    return wtxn.PutCert(*current);
  });
  if (!written) return Internal(written.error());
  if (std::holds_alternative<engine_api::EngineError>(*answer))
    return Err(ProblemKind::kAlreadyRevoked, "certificate " + serial + " is already revoked");
  log::Info("certificate_revoked", {{"serial", serial}, {"reason", reason}, {"actor", actor}});
  lifecycle_.CountRevoked(reason);
  HttpResponse r;
  r.status = 200;
  return r;
}

AcmeServer::Outcome AcmeServer::RenewalInfo(const std::string& cert_id) {
  auto dot = cert_id.find('.');
  if (dot == std::string::npos) return Err(ProblemKind::kMalformed, "renewalInfo id must be <AKI>.<serial> in base64url");
  auto aki = Base64UrlDecode(cert_id.substr(0, dot));
  auto serial = Base64UrlDecode(cert_id.substr(dot + 1));
  if (!aki || !serial || aki->empty() || serial->empty())
    return Err(ProblemKind::kMalformed, "renewalInfo id must be <AKI>.<serial> in base64url");
  auto txn = store_.Read();
  if (!txn) return Internal(txn.error());
  auto record = txn->GetCert(NormalizeSerial(HexEncode(*serial)));
  if (!record) return Internal(record.error());
  if (!*record) return Err(ProblemKind::kNotFound, "no certificate with this serial");
  auto chain = ossl::CertsFromPem((*record)->chain_pem);
  if (!chain || chain->empty()) return Internal(Error{ErrorCode::kCorrupt, "stored chain unreadable"});
  const ASN1_OCTET_STRING* cert_aki = X509_get0_authority_key_id(chain->front().get());
  if (cert_aki == nullptr || static_cast<size_t>(ASN1_STRING_length(cert_aki)) != aki->size() ||
      std::memcmp(ASN1_STRING_get0_data(cert_aki), aki->data(), aki->size()) != 0)
    return Err(ProblemKind::kNotFound, "no certificate with this authority key identifier and serial");
  int64_t nb = (*record)->not_before, na = (*record)->not_after;
  int64_t now = clock_();
  int64_t start, end;
  if ((*record)->revoked) {
    start = now - 3600;
    end = now;
  } else {
    int64_t life = na - nb;
    start = nb + life * 2 / 3;
    end = std::min(na, start + std::max<int64_t>(life / 6, 3600));
  }
  HttpResponse r = Json(200, {{"suggestedWindow", {{"start", Rfc3339(start)}, {"end", Rfc3339(end)}}}});
  r.headers.push_back({"Retry-After", "21600"});
  return r;
}

// ---------------------------------------------------------------------------------------------
// Metrics

void AcmeServer::CountRequest(const std::string& endpoint, int status) {
  std::lock_guard lock(metrics_mu_);
  ++request_counts_[{endpoint, status}];
}

std::string AcmeServer::MetricsText() const {
  std::lock_guard lock(metrics_mu_);
  std::string out =
      "# HELP acme_requests_total ACME requests by endpoint and HTTP status.\n"
      "# TYPE acme_requests_total counter\n";
  for (const auto& [key, n] : request_counts_)
    out += "acme_requests_total{endpoint=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"} " +
           std::to_string(n) + "\n";
  out +=
      "# HELP acme_validations_total Challenge validation attempts by type and outcome.\n"
      "# TYPE acme_validations_total counter\n";
  for (const auto& [key, n] : validation_counts_)
    out += "acme_validations_total{type=\"" + key.first + "\",outcome=\"" + key.second + "\"} " + std::to_string(n) + "\n";
  const auto commits = store_.commit_stats();
  out +=
      "# HELP acme_store_write_ops_total State changes written to the gateway store.\n"
      "# TYPE acme_store_write_ops_total counter\n"
      "acme_store_write_ops_total " + std::to_string(commits.ops) + "\n"
      "# HELP acme_store_commits_total Durable write transactions (group commits) of the gateway store.\n"
      "# TYPE acme_store_commits_total counter\n"
      "acme_store_commits_total " + std::to_string(commits.batches) + "\n";
  out += lifecycle_.Text();
  return out;
}

}  // namespace ca::gateway
