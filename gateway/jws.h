// JSON Web Signatures as RFC 8555 §6.2 uses them: flattened JSON serialization only, protected
// header only, RS256 / ES256 / ES384 / EdDSA verified with OpenSSL; JWK import and RFC 7638
// thumbprints; HS256 for External Account Binding.
#pragma once

#include <nlohmann/json.hpp>

#include <span>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/openssl.h"
#include "gateway/problems.h"

namespace ca::gateway {

template <class T>
using ProblemOr = std::expected<T, Problem>;

// Limits on what the parser accepts before any cryptography.
inline constexpr size_t kMaxJsonDepth = 16;

struct Jws {
  nlohmann::json header;     // the decoded protected header (a JSON object)
  std::string protected_b64; // as received, part of the signing input
  std::string payload_b64;   // as received ("" for POST-as-GET)
  Bytes payload;             // decoded payload
  Bytes signature;           // decoded signature
  std::string alg;           // header "alg"

  std::string SigningInput() const { return protected_b64 + "." + payload_b64; }
  bool PostAsGet() const { return payload_b64.empty(); }
};

// Parses a flattened JSON JWS (body of an application/jose+json request). Refuses the general
// serialization, unprotected headers, missing or malformed members and JSON nested deeper than
// kMaxJsonDepth. Does not verify anything but the structure.
ProblemOr<Jws> ParseJws(std::string_view body);

// Parses JSON text with the depth bound; nullopt on any syntax error or excess depth.
std::optional<nlohmann::json> ParseBoundedJson(std::string_view text, size_t max_depth = kMaxJsonDepth);

// Imports a public JWK (RSA, EC P-256/P-384, OKP Ed25519). Refuses private members ("d"), RSA
// moduli under 2048 bits and points off the curve (badPublicKey).
ProblemOr<ossl::Pkey> PublicKeyFromJwk(const nlohmann::json& jwk);

// The public JWK of a key (for tests and for comparing against certificate keys).
Result<nlohmann::json> JwkFromPublicKey(const EVP_PKEY* key);

// RFC 7638 thumbprint: base64url(SHA-256(canonical JSON of the required members)).
ProblemOr<std::string> JwkThumbprint(const nlohmann::json& jwk);

// Checks that `alg` is an outer-JWS algorithm we support and matches the key type and size
// (badSignatureAlgorithm otherwise), then verifies the signature (malformed
// "JWS signature invalid" / BAD_SIGNATURE otherwise).
ProblemOr<void> VerifyJwsSignature(const Jws& jws, const EVP_PKEY* key);

// HS256 over the JWS signing input with `mac_key`; constant-time comparison.
bool VerifyHs256(const Jws& jws, std::span<const uint8_t> mac_key);

// Signing helpers used by tests and the protocol test client: produce the flattened JWS JSON.
Result<std::string> SignJws(const nlohmann::json& header, std::string_view payload, EVP_PKEY* key,
                            std::string_view alg);
Result<std::string> SignJwsHs256(const nlohmann::json& header, std::string_view payload,
                                 std::span<const uint8_t> mac_key);

}  // namespace ca::gateway
