// Accounts: newAccount (with External Account Binding), account POST (read, contacts,
// deactivation), the orders list, keyChange.
#include "gateway/handlers.h"

#include <algorithm>

#include "common/encoding.h"
#include "common/log.h"
#include "gateway/account_key_cache.h"
#include "gateway/authentication.h"
#include "pki/time.h"

namespace ca::gateway {

using nlohmann::json;

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
    if (!s.starts_with("mailto:"))
      return Err(ProblemKind::kUnsupportedContact, "only mailto: contacts are supported: " + s);
    std::string addr = s.substr(7);
    auto at = addr.find('@');
    if (addr.empty() || addr.size() > 254 || at == std::string::npos || at == 0 ||
        at + 1 >= addr.size() || addr.find_first_of(",?&% <>\"\r\n") != std::string::npos ||
        addr.find('@', at + 1) != std::string::npos || addr.find('.', at) == std::string::npos)
      return Err(ProblemKind::kInvalidContact, "invalid mailto: contact \"" + s + "\"");
    out.push_back(s);
  }
  return out;
}

json AccountJson(const HandlerContext& s, const AccountRecord& a) {
  return {{"status", a.status},
          {"contact", a.contact},
          {"orders", s.Url("/acme/acct/" + a.id + "/orders")},
          {"createdAt", pki::FormatRfc3339(a.created_at)}};
}

// External Account Binding (RFC 8555 §7.3.4), its form: a HS256 JWS over the account key, for
// the newAccount URL, with a kid. The MAC is checked by the caller, with the key of that kid.
ProblemOr<Jws> VerifyEabStructure(const HandlerContext& s, const json& payload,
                                  const std::string& thumbprint) {
  auto eab_it = payload.find("externalAccountBinding");
  if (eab_it == payload.end())
    return Err(ProblemKind::kExternalAccountRequired,
               "this server requires an externalAccountBinding");
  if (!eab_it->is_object())
    return Err(ProblemKind::kMalformed, "externalAccountBinding must be a flattened JWS object");
  auto eab = CA_TRY(ParseJws(eab_it->dump()));
  if (eab.alg != "HS256" && eab.alg != "HS384" && eab.alg != "HS512")
    return Err(ProblemKind::kMalformed,
               "externalAccountBinding must use a MAC algorithm (HS256), not \"" + eab.alg + "\"");
  if (eab.alg != "HS256")
    return Err(ProblemKind::kMalformed, "externalAccountBinding alg must be HS256");
  if (eab.header.contains("nonce"))
    return Err(ProblemKind::kMalformed, "externalAccountBinding must not contain a nonce");
  if (eab.header.contains("jwk"))
    return Err(ProblemKind::kMalformed, "externalAccountBinding must not contain a jwk");
  if (!eab.header.contains("url") || eab.header["url"] != s.Url("/acme/new-account"))
    return Err(ProblemKind::kMalformed, "externalAccountBinding url must be the newAccount URL");
  if (!eab.header.contains("kid") || !eab.header["kid"].is_string() ||
      eab.header["kid"].get<std::string>().empty())
    return Err(ProblemKind::kMalformed, "externalAccountBinding has no kid");
  auto inner_jwk = ParseBoundedJson(AsString(eab.payload));
  if (!inner_jwk || !inner_jwk->is_object())
    return Err(ProblemKind::kMalformed, "externalAccountBinding payload must be the account JWK");
  auto inner_tp = JwkThumbprint(*inner_jwk);
  if (!inner_tp || *inner_tp != thumbprint)
    return Err(ProblemKind::kMalformed,
               "externalAccountBinding payload is not the key that signed the request");
  return eab;
}

// The EAB MAC, checked by the engine with the external account's MAC key inside the HSM (the
// gateway never holds a MAC key: R21, engine/eab_verifier.h). nullopt: the engine could not answer.
std::optional<bool> EngineVerifiesEab(HandlerContext& s, const std::string& kid, const Jws& eab) {
  engine::api::VerifyExternalAccountBindingRequest request{kid, eab.SigningInput(), eab.signature,
                                                           s.Environment()};
  auto answer = s.issuer.Call(request);
  if (answer) {
    if (const auto* verdict = std::get_if<engine::api::ExternalAccountBindingVerdict>(&*answer))
      return verdict->verified;
  }
  log::Error("eab_engine_unavailable",
             {{"external_account", kid},
              {"error", !answer ? answer.error().ToString()
                        : std::holds_alternative<engine::api::EngineError>(*answer)
                            ? std::get<engine::api::EngineError>(*answer).detail
                            : std::string("unexpected answer")}});
  return std::nullopt;
}

}  // namespace

Outcome NewAccount(HandlerContext& s, RequestState& ctx, const Jws& jws) {
  auto payload = CA_TRY(PayloadObject(jws));
  const json& jwk = ctx.jwk;
  auto thumbprint = CA_TRY(JwkThumbprint(jwk));
  {
    auto txn = s.store.Read();
    if (!txn) return Internal(txn.error());
    auto existing = txn->FindAccountByThumbprint(thumbprint);
    if (!existing) return Internal(existing.error());
    if (*existing) {
      auto acct = txn->GetAccount(**existing);
      if (!acct) return Internal(acct.error());
      if (!*acct)
        return Internal(Error{ErrorCode::kCorrupt, "key index points to a missing account"});
      CA_TRY_STATUS(RequireAccountStatus(**acct));
      CA_TRY_STATUS(RequirePolicyStanding(s, **acct));  // the key finds no account the RA refuses
      ctx.account = **acct;
      HttpResponse r = JsonResponse(200, AccountJson(s, **acct));
      r.headers.push_back({"Location", s.Url("/acme/acct/" + (*acct)->id)});
      return r;
    }
  }
  auto only_existing = payload.find("onlyReturnExisting");
  if (only_existing != payload.end() && only_existing->is_boolean() && only_existing->get<bool>())
    return Err(ProblemKind::kAccountDoesNotExist, "no account exists for this key");
  auto contacts = CA_TRY(ParseContacts(payload));
  auto tos = payload.find("termsOfServiceAgreed");
  if (tos != payload.end() && !tos->is_boolean())
    return Err(ProblemKind::kMalformed, "termsOfServiceAgreed must be a boolean");

  Jws eab = CA_TRY(VerifyEabStructure(s, payload, thumbprint));
  std::string ext_kid = eab.header["kid"].get<std::string>();
  int64_t now = s.clock();
  // The MAC first, and one answer for an unknown kid and a wrong MAC (same problem, same detail, a
  // MAC computed by the HSM either way): the KeyID space cannot be probed, and the external
  // account's state (suspended, expired...) is told only to whoever holds its MAC key.
  auto verified = EngineVerifiesEab(s, ext_kid, eab);
  if (!verified)
    return Err(ProblemKind::kUnavailable,
               "ACME_CA_ERROR: the externalAccountBinding cannot be verified now (signing engine "
               "unavailable); retry");
  auto ext = s.policy.FindExternalAccount(ext_kid, now);
  if (!ext) return Internal(ext.error());
  if (!*verified || !*ext) {
    log::Warn("eab_refused", {{"external_account", ext_kid},
                              {"reason", !*ext ? "unknown kid" : "wrong MAC"}});
    return Err(ProblemKind::kUnauthorized,
               "BAD_SIGNATURE: the externalAccountBinding does not verify (unknown key identifier "
               "or wrong MAC key)");
  }
  if (!(*ext)->refusal_code.empty())
    return std::unexpected(ProblemForResultCode((*ext)->refusal_code, ext_kid, ""));
  if ((*ext)->allowed_profiles.empty())
    return Err(ProblemKind::kUnauthorized,
               "PROFILE_NOT_ALLOWED: external account " + ext_kid + " allows no profile");

  AccountRecord account;
  account.id = NewId();
  account.external_account_kid = ext_kid;
  account.profile = (*ext)->allowed_profiles.front();
  account.status = AccountStatus::kValid;
  account.created_at = now;
  account.contact = std::move(contacts);
  account.jwk_thumbprint = thumbprint;

  std::optional<Problem> refusal;
  Status written = s.store.Write([&](StoreTxn& txn) -> Status {
    refusal.reset();
    size_t count = CA_TRY(txn.CountAccountsOfExternal(ext_kid));
    if (count >= (*ext)->max_acme_accounts) {
      refusal = MakeProblem(ProblemKind::kUnauthorized,
                            "external account " + ext_kid + " already has " +
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
  log::Info("account_created",
            {{"account", account.id}, {"external_account", ext_kid}, {"profile", account.profile}});
  HttpResponse r = JsonResponse(201, AccountJson(s, account));
  r.headers.push_back({"Location", s.Url("/acme/acct/" + account.id)});
  return r;
}

Outcome AccountPost(HandlerContext& s, RequestState& ctx, const Jws& jws, const std::string& id) {
  if (ctx.account->id != id)
    return Err(ProblemKind::kUnauthorized, "the kid is not the account being addressed");
  if (jws.PostAsGet()) {
    HttpResponse r = JsonResponse(200, AccountJson(s, *ctx.account));
    r.headers.push_back({"Location", s.Url("/acme/acct/" + id)});
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
  Status written = s.store.Write([&](StoreTxn& txn) -> Status {
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
    if (deactivate) account.status = AccountStatus::kDeactivated;
    if (contacts) account.contact = *contacts;
    return txn.PutAccount(account);
  });
  if (!written) return Internal(written.error());
  if (refusal) return std::unexpected(*refusal);
  if (account.status == AccountStatus::kDeactivated) {
    s.account_keys.Erase(account.jwk_thumbprint);
    log::Info("account_deactivated", {{"account", id}});
  }
  ctx.account = account;
  HttpResponse r = JsonResponse(200, AccountJson(s, account));
  r.headers.push_back({"Location", s.Url("/acme/acct/" + id)});
  return r;
}

Outcome OrdersList(HandlerContext& s, RequestState& ctx, const Jws& jws, const std::string& id) {
  if (ctx.account->id != id)
    return Err(ProblemKind::kUnauthorized, "the orders list belongs to another account");
  if (!jws.PostAsGet())
    return Err(ProblemKind::kMalformed, "the orders list is read with POST-as-GET");
  auto txn = s.store.Read();
  if (!txn) return Internal(txn.error());
  auto ids = txn->ListOrderIds(id);
  if (!ids) return Internal(ids.error());
  json urls = json::array();
  for (const auto& oid : *ids) urls.push_back(s.Url("/acme/order/" + oid));
  return JsonResponse(200, {{"orders", urls}});
}

Outcome KeyChange(HandlerContext& s, RequestState& ctx, const Jws& jws) {
  auto outer_payload = std::string(AsString(jws.payload));
  if (jws.PostAsGet()) return Err(ProblemKind::kMalformed, "keyChange needs an inner JWS payload");
  auto inner = CA_TRY(ParseJws(outer_payload));
  if (!inner.header.contains("jwk"))
    return Err(ProblemKind::kMalformed, "the inner JWS must carry the new key as jwk");
  if (inner.header.contains("kid"))
    return Err(ProblemKind::kMalformed, "the inner JWS must not carry a kid");
  if (inner.header.contains("nonce"))
    return Err(ProblemKind::kMalformed, "the inner JWS must not carry a nonce");
  if (!inner.header.contains("url") || inner.header["url"] != jws.header["url"])
    return Err(ProblemKind::kMalformed, "the inner JWS url must equal the outer url");
  if (std::find(SupportedJwsAlgorithms().begin(), SupportedJwsAlgorithms().end(), inner.alg) ==
      SupportedJwsAlgorithms().end())
    return Err(ProblemKind::kBadSignatureAlgorithm,
               "inner JWS algorithm \"" + inner.alg + "\" is not accepted");
  auto new_key = CA_TRY(PublicKeyFromJwk(inner.header["jwk"]));
  CA_TRY_STATUS(VerifyJwsSignature(inner, new_key.get()));
  auto payload = ParseBoundedJson(AsString(inner.payload));
  if (!payload || !payload->is_object())
    return Err(ProblemKind::kMalformed, "inner JWS payload is not a JSON object");
  if (!payload->contains("account") || (*payload)["account"] != jws.header["kid"])
    return Err(ProblemKind::kMalformed, "inner payload account must equal the outer kid");
  if (!payload->contains("oldKey"))
    return Err(ProblemKind::kMalformed, "inner payload has no oldKey");
  auto old_tp = JwkThumbprint((*payload)["oldKey"]);
  if (!old_tp || *old_tp != ctx.account->jwk_thumbprint)
    return Err(ProblemKind::kMalformed, "oldKey is not the account's current key");
  auto new_tp = CA_TRY(JwkThumbprint(inner.header["jwk"]));

  std::optional<Problem> refusal;
  Status written = s.store.Write([&](StoreTxn& txn) -> Status {
    refusal.reset();
    auto holder = CA_TRY(txn.FindAccountByThumbprint(new_tp));
    if (holder) {
      refusal = MakeProblem(ProblemKind::kConflict, "the new key is already in use by an account");
      refusal->location = s.Url("/acme/acct/" + *holder);
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
  s.account_keys.Erase(*old_tp);
  log::Info("account_key_changed", {{"account", ctx.account->id}});
  ctx.account->jwk_thumbprint = new_tp;
  HttpResponse r = JsonResponse(200, AccountJson(s, *ctx.account));
  r.headers.push_back({"Location", s.Url("/acme/acct/" + ctx.account->id)});
  return r;
}

}  // namespace ca::gateway
