// Certificate serial numbers (CA-7): positive, at most 20 octets, ≥ 64 bits from the CSPRNG.
// Uniqueness is the CA store's job: it reserves a generated serial before signing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"

namespace ca::issuance {

// Random bytes drawn per serial. The top bit of the first is cleared so the DER INTEGER is
// positive without a padding octet: 143 random bits, at most 18 octets.
inline constexpr size_t kSerialRandomBytes = 18;
inline constexpr size_t kSerialMaxOctets = 20;  // RFC 5280 §4.1.2.2

// Big-endian magnitude of a positive serial, minimal (no leading zero octet).
using Serial = std::vector<uint8_t>;

// A fresh serial from the CSPRNG (never zero).
Serial GenerateSerial();

// Lower-case hex of the minimal magnitude ("7f01…"): the serial_hex of the engine API.
std::string SerialToHex(std::span<const uint8_t> serial);
Result<Serial> SerialFromHex(std::string_view hex);  // refuses zero, > 20 octets, bad hex

// Checks a serial is positive (non-zero), minimal, its DER content ≤ 20 octets.
Status ValidateSerial(std::span<const uint8_t> serial);

Result<ossl::Asn1Integer> SerialToAsn1(std::span<const uint8_t> serial);
// The serial of an ASN1_INTEGER; kInvalidArgument if it is negative or zero.
Result<Serial> SerialFromAsn1(const ASN1_INTEGER* integer);

}  // namespace ca::issuance
