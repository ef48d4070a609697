// JWS authentication of ACME POSTs (see authentication.h).
#include "gateway/authentication.h"

#include <algorithm>

#include "common/encoding.h"
#include "gateway/account_key_cache.h"
#include "gateway/nonce.h"

namespace ca::gateway {

using nlohmann::json;

namespace {
constexpr char kJose[] = "application/jose+json";
}  // namespace

ProblemOr<Jws> Authenticate(HandlerContext& s, RequestState& ctx, const HttpRequest& req,
                            KeyMode mode) {
  if (req.body_too_large)
    return Err(ProblemKind::kPayloadTooLarge,
               "request body exceeds " + std::to_string(s.options.max_body_bytes) + " bytes");
  std::string ct = req.content_type.substr(0, req.content_type.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  ct = AsciiLower(ct);
  if (ct != kJose)
    return Err(ProblemKind::kUnsupportedMediaType, "Content-Type must be application/jose+json");
  auto jws = CA_TRY(ParseJws(req.body));

  if (std::find(SupportedJwsAlgorithms().begin(), SupportedJwsAlgorithms().end(), jws.alg) ==
      SupportedJwsAlgorithms().end())
    return Err(ProblemKind::kBadSignatureAlgorithm,
               "JWS algorithm \"" + jws.alg + "\" is not accepted");

  auto url = jws.header.find("url");
  if (url == jws.header.end() || !url->is_string())
    return Err(ProblemKind::kMalformed, "JWS protected header has no url");
  if (url->get<std::string>() != s.Url(req.path))
    return Err(ProblemKind::kUnauthorized, "JWS url \"" + url->get<std::string>() +
                                               "\" does not match the request URL " +
                                               s.Url(req.path));

  auto nonce = jws.header.find("nonce");
  if (nonce == jws.header.end() || !nonce->is_string())
    return Err(ProblemKind::kBadNonce, "JWS protected header has no nonce");
  NonceCheck check = s.nonces.Consume(nonce->get<std::string>());
  if (check == NonceCheck::kUnavailable)  // the shared redemption was not recorded (logged)
    return Internal(Error{ErrorCode::kUnavailable, "nonce redemption failed"});
  if (check != NonceCheck::kOk)
    return Err(ProblemKind::kBadNonce, "nonce " + std::string(NonceCheckName(check)));

  const bool has_jwk = jws.header.contains("jwk");
  const bool has_kid = jws.header.contains("kid");
  if (has_jwk == has_kid)
    return Err(ProblemKind::kMalformed,
               "the JWS protected header must have exactly one of jwk and kid");
  if (mode == KeyMode::kJwkOnly && !has_jwk)
    return Err(ProblemKind::kMalformed, "this request must be signed with a jwk, not a kid");
  if (mode == KeyMode::kKidOnly && !has_kid)
    return Err(ProblemKind::kMalformed,
               "this request must be signed with the account kid, not a jwk");

  if (has_jwk) {
    auto key = CA_TRY(PublicKeyFromJwk(jws.header["jwk"]));
    CA_TRY_STATUS(VerifyJwsSignature(jws, key.get()));
    ctx.jwk = jws.header["jwk"];
    return jws;
  }
  if (!jws.header["kid"].is_string()) return Err(ProblemKind::kMalformed, "kid must be a string");
  std::string kid = jws.header["kid"].get<std::string>();
  std::string prefix = s.Url("/acme/acct/");
  std::string id;
  if (!kid.starts_with(prefix) || !ValidId(id = kid.substr(prefix.size())))
    return Err(ProblemKind::kAccountDoesNotExist, "kid is not an account URL of this server");
  auto txn = s.store.Read();
  if (!txn) return Internal(txn.error());
  auto account = txn->GetAccount(id);
  if (!account) return Internal(account.error());
  if (!*account) return Err(ProblemKind::kAccountDoesNotExist, "no account " + kid);
  AccountKeyCache::Key key = s.account_keys.Find((*account)->jwk_thumbprint);
  if (!key) {
    auto jwk = txn->GetAccountKey(id);
    if (!jwk) return Internal(jwk.error());
    if (!*jwk) return Internal(Error{ErrorCode::kCorrupt, "account " + id + " has no key"});
    auto imported = CA_TRY(PublicKeyFromJwk(**jwk));
    // Cached under its thumbprint only when the record names exactly this key.
    auto thumbprint = JwkThumbprint(**jwk);
    if (thumbprint && *thumbprint == (*account)->jwk_thumbprint)
      key = s.account_keys.Insert(*thumbprint, imported.release());
    else
      key = AccountKeyCache::Key(imported.release(), EVP_PKEY_free);
  }
  CA_TRY_STATUS(VerifyJwsSignature(jws, key.get()));
  ctx.account = std::move(**account);
  ctx.account_key = std::move(key);
  CA_TRY_STATUS(RequireAccountStatus(*ctx.account));
  CA_TRY_STATUS(RequirePolicyStanding(s, *ctx.account));
  return jws;
}

ProblemOr<void> RequirePolicyStanding(HandlerContext& s, const AccountRecord& account) {
  auto standing = s.policy.Decide(account, {}, account.profile, s.clock());
  if (!standing) return Internal(standing.error());
  if (!standing->allowed)
    return std::unexpected(
        ProblemForResultCode(standing->result_code, standing->name, standing->detail));
  return {};
}

ProblemOr<void> RequireAccountStatus(const AccountRecord& account) {
  if (account.status == AccountStatus::kDeactivated)
    return Err(ProblemKind::kUnauthorized,
               "DEACTIVATED_ACCOUNT: account " + account.id + " is deactivated");
  if (account.status == AccountStatus::kRevoked)
    return Err(ProblemKind::kUnauthorized,
               "REVOKED_ACCOUNT: account " + account.id + " is revoked");
  return {};
}

}  // namespace ca::gateway
