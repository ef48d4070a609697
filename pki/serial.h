// Certificate serial numbers (RFC 5280 §4.1.2.2, CA-7): the one type and the one hex form used by
// the contract, the stores, the logs and the audit trail of every process.
#pragma once

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"

namespace ca::pki {

// Random bytes drawn per generated serial. The top bit of the first is cleared so the DER INTEGER
// is positive without a padding octet: 143 random bits, at most 18 octets.
inline constexpr size_t kSerialRandomBytes = 18;
inline constexpr size_t kSerialMaxOctets = 20;  // RFC 5280 §4.1.2.2, DER content octets

// A positive serial number: its unsigned big-endian magnitude without leading zero octets.
// Canonical text ("0a1b"): lower-case hex, even length, minimal octets. Logs in both processes and
// every stored key use that form, so the same certificate always prints the same way.
// Built through the factories below, which keep `magnitude` minimal and non-zero; a default
// Serial is empty ("no serial yet", e.g. a request before its serial is reserved).
struct Serial {
  std::vector<uint8_t> magnitude;

  // A fresh serial from the CSPRNG (never zero): the CA's only serial generator.
  static Serial Generate();

  // Canonical hex only (what Hex() produces); anything else is kInvalidArgument. For machine
  // input: the engine contract and stored records.
  static Result<Serial> FromHex(std::string_view hex);
  // Hex typed by people or sent by clients: any case, leading zeros, ':' separators.
  static Result<Serial> FromOperatorHex(std::string_view text);
  // Any big-endian magnitude (leading zero octets allowed); refuses zero and > 20 octets.
  static Result<Serial> FromBytes(std::span<const uint8_t> big_endian);
  static Result<Serial> FromAsn1(const ASN1_INTEGER* value);  // refuses negative and zero
  static Result<Serial> FromCert(const X509* cert);

  bool empty() const { return magnitude.empty(); }
  std::string Hex() const;  // canonical; "" for an empty Serial
  // The issuance rule: non-zero and its DER content (with the sign octet) at most 20 octets.
  Status Validate() const;
  // Encodes any Serial from the factories; issuance calls Validate() first (a foreign serial read
  // from a certificate may be one octet longer and must still be listed in a CRL).
  Result<ossl::Asn1Integer> ToAsn1() const;

  auto operator<=>(const Serial&) const = default;
  bool operator==(const Serial&) const = default;
};

}  // namespace ca::pki
