// The body of every ACME POST (gateway/jws.h): flattened JWS parsing, the JWK in the protected
// header (import, RFC 7638 thumbprint, signature check), the payload JSON with its depth bound,
// and an External Account Binding inside a newAccount payload (HS256 JWS over the account JWK),
// decoded the way gateway/accounts.cpp does. Property: an imported key exports to a JWK whose
// thumbprint can be computed.
#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "fuzz/seeds.h"
#include "gateway/jws.h"

namespace ca::fuzz {
namespace {

constexpr std::array<uint8_t, 32> kMacKey = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                             17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
constexpr char kNewAccount[] = "https://ca.example/acme/new-account";

void CheckJwk(const nlohmann::json& jwk) {
  (void)gateway::JwkThumbprint(jwk);
  auto key = gateway::PublicKeyFromJwk(jwk);
  if (!key) return;
  auto exported = gateway::JwkFromPublicKey(key->get());
  if (!exported || !gateway::JwkThumbprint(*exported)) std::abort();
}

void CheckEab(const nlohmann::json& payload) {
  auto eab_it = payload.find("externalAccountBinding");
  if (eab_it == payload.end() || !eab_it->is_object()) return;
  auto eab = gateway::ParseJws(eab_it->dump());
  if (!eab) return;
  (void)gateway::VerifyHs256(*eab, kMacKey);
  auto inner = gateway::ParseBoundedJson(AsString(eab->payload));
  if (inner && inner->is_object()) CheckJwk(*inner);
}

void Check(std::string_view body) {
  auto jws = gateway::ParseJws(body);
  if (!jws) return;
  if (auto jwk = jws->header.find("jwk"); jwk != jws->header.end() && jwk->is_object()) {
    CheckJwk(*jwk);
    if (auto key = gateway::PublicKeyFromJwk(*jwk)) (void)gateway::VerifyJwsSignature(*jws, key->get());
  }
  (void)gateway::VerifyHs256(*jws, kMacKey);
  auto payload = gateway::ParseBoundedJson(AsString(jws->payload));
  if (payload && payload->is_object()) CheckEab(*payload);
}

ossl::Pkey Key(const char* type, const char* param) {
  if (std::string_view(type) == "RSA") return ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, type, size_t{2048}));
  if (param == nullptr) return ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, type));
  return ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, type, param));
}

void WriteSeeds(const SeedWriter& out) {
  struct Kind {
    const char* name;
    const char* type;
    const char* param;
    const char* alg;
  };
  for (const Kind& k : {Kind{"es256", "EC", "P-256", "ES256"}, Kind{"es384", "EC", "P-384", "ES384"},
                        Kind{"rs256", "RSA", nullptr, "RS256"}, Kind{"eddsa", "ED25519", nullptr, "EdDSA"}}) {
    ossl::Pkey key = Key(k.type, k.param);
    nlohmann::json jwk = *gateway::JwkFromPublicKey(key.get());
    // newAccount with an External Account Binding over the account key.
    nlohmann::json eab = nlohmann::json::parse(*gateway::SignJwsHs256(
        {{"alg", "HS256"}, {"kid", "kid-1"}, {"url", kNewAccount}}, jwk.dump(), kMacKey));
    nlohmann::json payload = {{"termsOfServiceAgreed", true},
                              {"contact", {"mailto:admin@example.org"}},
                              {"externalAccountBinding", eab}};
    nlohmann::json header = {{"alg", k.alg}, {"nonce", "bm9uY2U"}, {"url", kNewAccount}, {"jwk", jwk}};
    out.Add(std::string("new_account_") + k.name, *gateway::SignJws(header, payload.dump(), key.get(), k.alg));
    // POST-as-GET with a kid.
    nlohmann::json kid_header = {{"alg", k.alg}, {"nonce", "bm9uY2U"},
                                 {"url", "https://ca.example/acme/order/1"},
                                 {"kid", "https://ca.example/acme/acct/1"}};
    out.Add(std::string("post_as_get_") + k.name, *gateway::SignJws(kid_header, "", key.get(), k.alg));
  }
}

}  // namespace
}  // namespace ca::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ca::fuzz::MaybeWriteSeeds(ca::fuzz::WriteSeeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ca::fuzz::Check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
