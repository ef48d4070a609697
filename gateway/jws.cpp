#include "gateway/jws.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#include <map>

namespace ca::gateway {

namespace {

using ParamBld = ossl::Owned<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using Params = ossl::Owned<OSSL_PARAM, OSSL_PARAM_free>;
using EcdsaSig = ossl::Owned<ECDSA_SIG, ECDSA_SIG_free>;

Problem Malformed(std::string detail) { return MakeProblem(ProblemKind::kMalformed, std::move(detail)); }
Problem BadKey(std::string detail) { return MakeProblem(ProblemKind::kBadPublicKey, std::move(detail)); }

std::optional<Bytes> B64Member(const nlohmann::json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  auto decoded = Base64UrlDecode(it->get<std::string>());
  if (!decoded || decoded->empty()) return std::nullopt;
  return std::move(*decoded);
}

ossl::Bn BnFrom(const Bytes& b) { return ossl::Bn(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr)); }

Bytes BnBytes(const BIGNUM* bn, int width) {
  int n = width > 0 ? width : BN_num_bytes(bn);
  Bytes out(static_cast<size_t>(n));
  if (width > 0) BN_bn2binpad(bn, out.data(), width);
  else BN_bn2bin(bn, out.data());
  return out;
}

ProblemOr<ossl::Pkey> FromData(const char* type, ParamBld& bld) {
  Params params(OSSL_PARAM_BLD_to_param(bld.get()));
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    std::string why = ossl::DrainErrors();
    return std::unexpected(BadKey(std::string("JWK rejected: ") + (why.empty() ? "invalid key" : why)));
  }
  ossl::Pkey key(raw);
  ossl::PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ossl::DrainErrors();
    return std::unexpected(BadKey("JWK rejected: public key fails validation"));
  }
  return key;
}

struct EcCurve {
  const char* jwk_crv;
  const char* group;
  int coord_bytes;
};
std::optional<EcCurve> CurveByName(std::string_view crv) {
  if (crv == "P-256") return EcCurve{"P-256", "prime256v1", 32};
  if (crv == "P-384") return EcCurve{"P-384", "secp384r1", 48};
  return std::nullopt;
}

std::string KeyTypeName(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) return "RSA";
  if (EVP_PKEY_is_a(key, "EC")) return "EC";
  if (EVP_PKEY_is_a(key, "ED25519")) return "Ed25519";
  return "unknown";
}

std::string EcGroup(const EVP_PKEY* key) {
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) != 1)
    return "";
  return std::string(name, len);
}

// Depth of [ / { nesting outside strings; returns false as soon as it exceeds max_depth.
bool DepthWithin(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

}  // namespace

std::optional<nlohmann::json> ParseBoundedJson(std::string_view text, size_t max_depth) {
  if (!DepthWithin(text, max_depth)) return std::nullopt;
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

ProblemOr<Jws> ParseJws(std::string_view body) {
  if (!DepthWithin(body, kMaxJsonDepth)) return std::unexpected(Malformed("JSON nested too deeply"));
  // Depth checked just above: ParseBoundedJson would scan the body (up to a CSR) once more.
  auto outer = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (outer.is_discarded() || !outer.is_object())
    return std::unexpected(Malformed("request body is not a JSON object"));
  if (outer.contains("signatures"))
    return std::unexpected(Malformed("JWS general serialization is not supported: use the flattened form"));
  if (outer.contains("header"))
    return std::unexpected(Malformed("JWS unprotected header is not allowed (RFC 8555 §6.2)"));
  for (const auto& [name, value] : outer.items()) {
    if (name != "protected" && name != "payload" && name != "signature")
      return std::unexpected(Malformed("unexpected JWS member \"" + name + "\""));
    if (!value.is_string()) return std::unexpected(Malformed("JWS member \"" + name + "\" is not a string"));
  }
  if (!outer.contains("protected") || !outer.contains("payload") || !outer.contains("signature"))
    return std::unexpected(Malformed("JWS must have protected, payload and signature members"));
  Jws jws;
  // Moved out of the parsed body, not copied (the payload carries the CSR at finalize).
  jws.protected_b64 = std::move(outer["protected"].get_ref<std::string&>());
  jws.payload_b64 = std::move(outer["payload"].get_ref<std::string&>());
  auto header_bytes = Base64UrlDecode(jws.protected_b64);
  if (!header_bytes || header_bytes->empty())
    return std::unexpected(Malformed("JWS protected header is not base64url"));
  auto header = ParseBoundedJson(AsString(*header_bytes));
  if (!header || !header->is_object())
    return std::unexpected(Malformed("JWS protected header is not a JSON object"));
  jws.header = std::move(*header);
  if (!jws.payload_b64.empty()) {
    auto payload = Base64UrlDecode(jws.payload_b64);
    if (!payload) return std::unexpected(Malformed("JWS payload is not base64url"));
    jws.payload = std::move(*payload);
  }
  auto sig = Base64UrlDecode(outer["signature"].get_ref<const std::string&>());
  // An empty signature parses: alg "none" must get badSignatureAlgorithm, and verification
  // refuses an empty signature under every supported alg.
  if (!sig) return std::unexpected(Malformed("JWS signature is not base64url"));
  jws.signature = std::move(*sig);
  auto alg = jws.header.find("alg");
  if (alg == jws.header.end() || !alg->is_string())
    return std::unexpected(MakeProblem(ProblemKind::kBadSignatureAlgorithm, "JWS protected header has no alg"));
  jws.alg = alg->get<std::string>();
  if (jws.header.contains("crit"))
    return std::unexpected(Malformed("JWS crit header parameter is not supported"));
  return jws;
}

ProblemOr<ossl::Pkey> PublicKeyFromJwk(const nlohmann::json& jwk) {
  if (!jwk.is_object()) return std::unexpected(BadKey("jwk is not a JSON object"));
  if (jwk.contains("d") || jwk.contains("p") || jwk.contains("k"))
    return std::unexpected(BadKey("jwk contains private or symmetric key material"));
  auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) return std::unexpected(BadKey("jwk has no kty"));
  std::string type = kty->get<std::string>();
  if (type == "RSA") {
    auto n = B64Member(jwk, "n"), e = B64Member(jwk, "e");
    if (!n || !e) return std::unexpected(BadKey("RSA jwk needs base64url n and e"));
    ossl::Bn bn_n = BnFrom(*n), bn_e = BnFrom(*e);
    if (BN_num_bits(bn_n.get()) < 2048)
      return std::unexpected(BadKey("RSA account keys must be at least 2048 bits"));
    if (BN_num_bits(bn_n.get()) > 8192) return std::unexpected(BadKey("RSA key larger than 8192 bits"));
    ParamBld bld(OSSL_PARAM_BLD_new());
    if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
      return std::unexpected(BadKey("RSA jwk rejected"));
    return FromData("RSA", bld);
  }
  if (type == "EC") {
    auto crv = jwk.find("crv");
    if (crv == jwk.end() || !crv->is_string()) return std::unexpected(BadKey("EC jwk has no crv"));
    auto curve = CurveByName(crv->get<std::string>());
    if (!curve) return std::unexpected(BadKey("EC curve must be P-256 or P-384"));
    auto x = B64Member(jwk, "x"), y = B64Member(jwk, "y");
    if (!x || !y || static_cast<int>(x->size()) != curve->coord_bytes ||
        static_cast<int>(y->size()) != curve->coord_bytes)
      return std::unexpected(BadKey("EC jwk x/y missing or of the wrong length"));
    Bytes point{0x04};
    point.insert(point.end(), x->begin(), x->end());
    point.insert(point.end(), y->begin(), y->end());
    ParamBld bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
      return std::unexpected(BadKey("EC jwk rejected"));
    return FromData("EC", bld);
  }
  if (type == "OKP") {
    auto crv = jwk.find("crv");
    if (crv == jwk.end() || *crv != "Ed25519") return std::unexpected(BadKey("OKP jwk must be Ed25519"));
    auto x = B64Member(jwk, "x");
    if (!x || x->size() != 32) return std::unexpected(BadKey("Ed25519 jwk x must be 32 bytes"));
    EVP_PKEY* raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, x->data(), x->size());
    if (raw == nullptr) {
      ossl::DrainErrors();
      return std::unexpected(BadKey("Ed25519 jwk rejected"));
    }
    return ossl::Pkey(raw);
  }
  return std::unexpected(BadKey("unsupported jwk kty \"" + type + "\""));
}

Result<nlohmann::json> JwkFromPublicKey(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    BIGNUM *n = nullptr, *e = nullptr;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
      BN_free(n);
      return ossl::CryptoFail("read RSA public key");
    }
    ossl::Bn on(n), oe(e);
    return nlohmann::json{{"kty", "RSA"},
                          {"n", Base64UrlEncode(BnBytes(n, 0))},
                          {"e", Base64UrlEncode(BnBytes(e, 0))}};
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    std::string group = EcGroup(key);
    const char* crv = group == "prime256v1" || group == "P-256"   ? "P-256"
                      : group == "secp384r1" || group == "P-384" ? "P-384"
                                                                  : nullptr;
    if (crv == nullptr) return Fail(ErrorCode::kInvalidArgument, "unsupported EC curve " + group);
    int width = std::string_view(crv) == "P-256" ? 32 : 48;
    BIGNUM *x = nullptr, *y = nullptr;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
      BN_free(x);
      return ossl::CryptoFail("read EC public key");
    }
    ossl::Bn ox(x), oy(y);
    return nlohmann::json{{"kty", "EC"},
                          {"crv", crv},
                          {"x", Base64UrlEncode(BnBytes(x, width))},
                          {"y", Base64UrlEncode(BnBytes(y, width))}};
  }
  if (EVP_PKEY_is_a(key, "ED25519")) {
    Bytes raw(32);
    size_t len = raw.size();
    if (EVP_PKEY_get_raw_public_key(key, raw.data(), &len) != 1) return ossl::CryptoFail("read Ed25519 key");
    raw.resize(len);
    return nlohmann::json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64UrlEncode(raw)}};
  }
  return Fail(ErrorCode::kInvalidArgument, "unsupported key type for JWK");
}

ProblemOr<std::string> JwkThumbprint(const nlohmann::json& jwk) {
  if (!jwk.is_object() || !jwk.contains("kty") || !jwk["kty"].is_string())
    return std::unexpected(BadKey("jwk has no kty"));
  std::string kty = jwk["kty"].get<std::string>();
  std::vector<const char*> members;
  if (kty == "RSA") members = {"e", "kty", "n"};
  else if (kty == "EC") members = {"crv", "kty", "x", "y"};
  else if (kty == "OKP") members = {"crv", "kty", "x"};
  else return std::unexpected(BadKey("unsupported jwk kty \"" + kty + "\""));
  // nlohmann::json objects are std::map-backed: dump() emits members in lexicographic order
  // without whitespace, which is exactly the RFC 7638 canonical form.
  nlohmann::json canonical = nlohmann::json::object();
  for (const char* m : members) {
    auto it = jwk.find(m);
    if (it == jwk.end() || !it->is_string()) return std::unexpected(BadKey(std::string("jwk lacks ") + m));
    canonical[m] = *it;
  }
  return Base64UrlEncode(Sha256(canonical.dump()));
}

ProblemOr<void> VerifyJwsSignature(const Jws& jws, const EVP_PKEY* key) {
  auto bad_alg = [&](std::string detail) {
    return std::unexpected(MakeProblem(ProblemKind::kBadSignatureAlgorithm, std::move(detail)));
  };
  const std::string type = KeyTypeName(key);
  const EVP_MD* md = nullptr;
  int ec_width = 0;
  if (jws.alg == "RS256") {
    if (type != "RSA") return bad_alg("alg RS256 needs an RSA key, got " + type);
    if (EVP_PKEY_get_bits(key) < 2048)
      return std::unexpected(BadKey("RSA account keys must be at least 2048 bits"));
    md = EVP_sha256();
  } else if (jws.alg == "ES256" || jws.alg == "ES384") {
    std::string want = jws.alg == "ES256" ? "prime256v1" : "secp384r1";
    std::string group = EcGroup(key);
    if (type != "EC" || group != want) return bad_alg("alg " + jws.alg + " does not match the key (" + type + " " + group + ")");
    md = jws.alg == "ES256" ? EVP_sha256() : EVP_sha384();
    ec_width = jws.alg == "ES256" ? 32 : 48;
  } else if (jws.alg == "EdDSA") {
    if (type != "Ed25519") return bad_alg("alg EdDSA needs an Ed25519 key, got " + type);
  } else {
    return bad_alg("JWS algorithm \"" + jws.alg + "\" is not accepted");
  }

  Bytes der_sig;
  std::span<const uint8_t> sig = jws.signature;
  if (ec_width > 0) {
    if (jws.signature.size() != static_cast<size_t>(2 * ec_width))
      return std::unexpected(Malformed("BAD_SIGNATURE: ECDSA signature must be r||s of " +
                                       std::to_string(2 * ec_width) + " bytes"));
    EcdsaSig es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(jws.signature.data(), ec_width, nullptr);
    BIGNUM* s = BN_bin2bn(jws.signature.data() + ec_width, ec_width, nullptr);
    if (!es || r == nullptr || s == nullptr || ECDSA_SIG_set0(es.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return std::unexpected(MakeProblem(ProblemKind::kServerInternal, "ECDSA signature conversion failed"));
    }
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(es.get(), &out);
    if (len <= 0) return std::unexpected(MakeProblem(ProblemKind::kServerInternal, "ECDSA DER encoding failed"));
    der_sig.assign(out, out + len);
    OPENSSL_free(out);
    sig = der_sig;
  }

  ossl::MdCtx ctx(EVP_MD_CTX_new());
  std::string input = jws.SigningInput();
  int ok = ctx ? EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, const_cast<EVP_PKEY*>(key)) : 0;
  if (ok == 1)
    ok = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), reinterpret_cast<const uint8_t*>(input.data()),
                          input.size());
  ossl::DrainErrors();
  if (ok != 1) return std::unexpected(Malformed("BAD_SIGNATURE: JWS signature does not verify"));
  return {};
}

bool VerifyHs256(const Jws& jws, std::span<const uint8_t> mac_key) {
  if (jws.alg != "HS256" || jws.signature.size() != 32) return false;
  std::string input = jws.SigningInput();
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), mac_key.data(), static_cast<int>(mac_key.size()),
           reinterpret_cast<const uint8_t*>(input.data()), input.size(), mac, &mac_len) == nullptr)
    return false;
  return mac_len == 32 && CRYPTO_memcmp(mac, jws.signature.data(), 32) == 0;
}

namespace {
std::string Flattened(const nlohmann::json& header, std::string_view payload, const Bytes& sig) {
  nlohmann::json out = {{"protected", Base64UrlEncode(AsBytes(header.dump()))},
                        {"payload", payload.empty() ? std::string() : Base64UrlEncode(AsBytes(payload))},
                        {"signature", Base64UrlEncode(sig)}};
  return out.dump();
}
}  // namespace

Result<std::string> SignJws(const nlohmann::json& header, std::string_view payload, EVP_PKEY* key,
                            std::string_view alg) {
  std::string input = Base64UrlEncode(AsBytes(header.dump())) + "." +
                      (payload.empty() ? std::string() : Base64UrlEncode(AsBytes(payload)));
  const EVP_MD* md = alg == "RS256" || alg == "ES256" ? EVP_sha256() : alg == "ES384" ? EVP_sha384() : nullptr;
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const uint8_t*>(input.data()), input.size()) != 1)
    return ossl::CryptoFail("sign JWS");
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const uint8_t*>(input.data()), input.size()) != 1)
    return ossl::CryptoFail("sign JWS");
  sig.resize(len);
  if (alg == "ES256" || alg == "ES384") {
    int width = alg == "ES256" ? 32 : 48;
    const uint8_t* p = sig.data();
    EcdsaSig es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
    if (!es) return ossl::CryptoFail("decode ECDSA signature");
    Bytes raw = BnBytes(ECDSA_SIG_get0_r(es.get()), width);
    Bytes s = BnBytes(ECDSA_SIG_get0_s(es.get()), width);
    raw.insert(raw.end(), s.begin(), s.end());
    sig = std::move(raw);
  }
  return Flattened(header, payload, sig);
}

Result<std::string> SignJwsHs256(const nlohmann::json& header, std::string_view payload,
                                 std::span<const uint8_t> mac_key) {
  std::string input = Base64UrlEncode(AsBytes(header.dump())) + "." +
                      (payload.empty() ? std::string() : Base64UrlEncode(AsBytes(payload)));
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), mac_key.data(), static_cast<int>(mac_key.size()),
           reinterpret_cast<const uint8_t*>(input.data()), input.size(), mac, &mac_len) == nullptr)
    return ossl::CryptoFail("HMAC");
  return Flattened(header, payload, Bytes(mac, mac + mac_len));
}

}  // namespace ca::gateway
