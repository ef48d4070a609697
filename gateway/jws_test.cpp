#include "gateway/jws.h"

#include <gtest/gtest.h>

#include "gateway/testing/fakes.h"

namespace ca::gateway {
namespace {

using testing::GenerateKey;

Jws SignedParsed(EVP_PKEY* key, const std::string& alg, const nlohmann::json& extra = {}) {
  nlohmann::json header = {{"alg", alg}, {"nonce", "n"}, {"url", "https://x/acme/new-order"}};
  for (auto& [k, v] : extra.items()) header[k] = v;
  auto body = SignJws(header, R"({"a":1})", key, alg);
  EXPECT_TRUE(body.has_value());
  auto jws = ParseJws(*body);
  EXPECT_TRUE(jws.has_value());
  return *jws;
}

class JwsAlgTest : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(JwsAlgTest, GoodSignatureVerifiesAndTamperingFails) {
  auto [kind, alg] = GetParam();
  auto key = GenerateKey(kind);
  ASSERT_TRUE(key.has_value());
  Jws jws = SignedParsed(key->get(), alg);
  auto jwk = JwkFromPublicKey(key->get());
  ASSERT_TRUE(jwk.has_value());
  auto imported = PublicKeyFromJwk(*jwk);
  ASSERT_TRUE(imported.has_value()) << imported.error().detail;
  EXPECT_TRUE(VerifyJwsSignature(jws, imported->get()).has_value());
  jws.payload_b64 = Base64UrlEncode(AsBytes(R"({"a":2})"));
  auto bad = VerifyJwsSignature(jws, imported->get());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, ProblemKind::kMalformed);
  EXPECT_NE(bad.error().detail.find("BAD_SIGNATURE"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Algs, JwsAlgTest,
                         ::testing::Values(std::pair<std::string, std::string>{"RSA2048", "RS256"},
                                           std::pair<std::string, std::string>{"P-256", "ES256"},
                                           std::pair<std::string, std::string>{"P-384", "ES384"},
                                           std::pair<std::string, std::string>{"Ed25519", "EdDSA"}));

TEST(Jws, AlgorithmMustMatchKey) {
  auto p256 = GenerateKey("P-256");
  Jws jws = SignedParsed(p256->get(), "ES256");
  jws.alg = "ES384";
  auto r = VerifyJwsSignature(jws, p256->get());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ProblemKind::kBadSignatureAlgorithm);
  jws.alg = "RS256";
  EXPECT_EQ(VerifyJwsSignature(jws, p256->get()).error().kind, ProblemKind::kBadSignatureAlgorithm);
}

TEST(Jws, NoneAndHs256AreRefused) {
  auto key = GenerateKey("P-256");
  Jws jws = SignedParsed(key->get(), "ES256");
  for (std::string alg : {"none", "HS256"}) {
    jws.alg = alg;
    auto r = VerifyJwsSignature(jws, key->get());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().kind, ProblemKind::kBadSignatureAlgorithm);
    EXPECT_EQ(ProblemToJson(r.error())["algorithms"], nlohmann::json(SupportedJwsAlgorithms()));
  }
}

TEST(Jws, StructureChecks) {
  EXPECT_EQ(ParseJws("not json").error().kind, ProblemKind::kMalformed);
  EXPECT_NE(ParseJws(R"({"signatures":[],"payload":""})").error().detail.find("general serialization"), std::string::npos);
  EXPECT_NE(ParseJws(R"({"protected":"e30","payload":"","signature":"AA","header":{}})").error().detail.find("unprotected"),
            std::string::npos);
  EXPECT_EQ(ParseJws(R"({"protected":"e30","payload":"","signature":"AA"})").error().kind,
            ProblemKind::kBadSignatureAlgorithm);  // {} has no alg
  std::string deep(100, '[');
  EXPECT_NE(ParseJws(deep).error().detail.find("nested"), std::string::npos);
}

TEST(Jws, WeakOrPrivateJwkRefused) {
  auto small = GenerateKey("RSA1024");
  auto jwk = JwkFromPublicKey(small->get());
  auto r = PublicKeyFromJwk(*jwk);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ProblemKind::kBadPublicKey);
  auto ec = GenerateKey("P-256");
  auto ecjwk = *JwkFromPublicKey(ec->get());
  ecjwk["d"] = "AAAA";
  EXPECT_EQ(PublicKeyFromJwk(ecjwk).error().kind, ProblemKind::kBadPublicKey);
  auto off = *JwkFromPublicKey(ec->get());
  off["y"] = off["x"];  // almost certainly not on the curve
  EXPECT_EQ(PublicKeyFromJwk(off).error().kind, ProblemKind::kBadPublicKey);
}

TEST(Jws, Rfc7638ThumbprintExample) {
  // RFC 7638 §3.1 example key and thumbprint.
  nlohmann::json jwk = {
      {"kty", "RSA"},
      {"n", "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},
      {"e", "AQAB"},
      {"alg", "RS256"},
      {"kid", "2011-04-29"}};
  auto tp = JwkThumbprint(jwk);
  ASSERT_TRUE(tp.has_value());
  EXPECT_EQ(*tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(Jws, Hs256) {
  Bytes mac = RandomBytes(32);
  auto body = SignJwsHs256({{"alg", "HS256"}, {"kid", "k"}}, "{}", mac);
  auto jws = ParseJws(*body);
  ASSERT_TRUE(jws.has_value());
  EXPECT_TRUE(VerifyHs256(*jws, mac));
  mac[0] ^= 1;
  EXPECT_FALSE(VerifyHs256(*jws, mac));
}

}  // namespace
}  // namespace ca::gateway
