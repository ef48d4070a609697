// Parsing of OCSP requests for the status server (RFC 6960 §4.1, RFC 5019 §2.1). OpenSSL parses;
// this decides what the server answers when no stored response can be looked up.
//
// Decisions (documented in README.md):
//  - a DER request larger than kMaxOcspRequestBytes, truncated, with trailing bytes or not an
//    OCSPRequest: malformedRequest;
//  - zero or more than one CertID: malformedRequest (RFC 5019 §2.1.1 allows exactly one, and a
//    pre-signed response covers one certificate);
//  - a CertID hash other than SHA-1 / SHA-256: unauthorized (we hold no response under that
//    CertID); hash lengths that do not fit the algorithm: malformedRequest;
//  - a nonce is accepted and ignored: the pre-signed response carries none (RFC 5019 §2.1.1 /
//    RFC 6960 §4.4.1: clients must not require it); a request signature is ignored.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "crl_ocsp/ocsp_response.h"

namespace ca::crl_ocsp {

// 1 KiB: one CertID with SHA-256 hashes and a 32-byte nonce is ~130 bytes; a signed request with
// its certificate chain does not belong on this responder.
inline constexpr size_t kMaxOcspRequestBytes = 1024;

struct CertIdQuery {
  CertIdHash hash = CertIdHash::kSha1;
  std::array<uint8_t, 32> name_hash{};
  std::array<uint8_t, 32> key_hash{};
  size_t hash_len = 0;
  std::array<uint8_t, 20> serial{};  // magnitude, no leading zeros
  size_t serial_len = 0;
  bool has_nonce = false;

  std::span<const uint8_t> NameHash() const { return {name_hash.data(), hash_len}; }
  std::span<const uint8_t> KeyHash() const { return {key_hash.data(), hash_len}; }
  std::span<const uint8_t> Serial() const { return {serial.data(), serial_len}; }
};

struct ParsedOcspRequest {
  std::optional<OcspError> error;  // set: answer this status without a lookup
  std::string_view problem;        // why (static text, for logs)
  CertIdQuery query;               // valid when !error
};

ParsedOcspRequest ParseOcspRequest(std::span<const uint8_t> der);

// The path part after "/ocsp/" of an RFC 5019 GET: base64 (standard or URL alphabet, padding
// optional), possibly still %-encoded. nullopt if it does not decode or exceeds the size limit.
std::optional<Bytes> DecodeOcspGetPath(std::string_view encoded);

}  // namespace ca::crl_ocsp
