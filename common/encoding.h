// Text encodings and digests used across modules (OpenSSL does the work).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ca {

using Bytes = std::vector<uint8_t>;

std::string Base64UrlEncode(std::span<const uint8_t> data);  // RFC 4648 §5, no '=' padding
Result<Bytes> Base64UrlDecode(std::string_view text);         // rejects padding and bad chars
std::string Base64Encode(std::span<const uint8_t> data);      // standard, padded
Result<Bytes> Base64Decode(std::string_view text);
std::string HexEncode(std::span<const uint8_t> data);  // lower case
Result<Bytes> HexDecode(std::string_view text);

Bytes Sha256(std::span<const uint8_t> data);

// ASCII letters to lower case, other bytes unchanged (DNS names, hex, header names, CAA tags).
std::string AsciiLower(std::string_view s);
// Printable, bounded excerpt of untrusted bytes for an error detail: characters outside visible
// ASCII and '"' become '?', "..." marks a cut after `max` bytes.
std::string Excerpt(std::string_view bytes, size_t max = 64);
inline Bytes Sha256(std::string_view s) {
  return Sha256(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

// CSPRNG (OpenSSL RAND_bytes); aborts the process if the DRBG fails (never returns weak bytes).
Bytes RandomBytes(size_t n);
// UUID version 4 from the CSPRNG, lower-case canonical text.
std::string RandomUuidV4();

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsString(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace ca
