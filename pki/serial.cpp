#include "pki/serial.h"

#include <openssl/bn.h>

#include <cctype>

#include "common/encoding.h"

namespace ca::pki {

namespace {
std::unexpected<Error> BadSerial(std::string detail) {
  return Fail(ErrorCode::kInvalidArgument, "serial: " + std::move(detail));
}
}  // namespace

Serial Serial::Generate() {
  for (;;) {
    Bytes raw = RandomBytes(kSerialRandomBytes);
    raw[0] &= 0x7f;
    auto serial = FromBytes(raw);
    if (serial) return std::move(*serial);  // zero (probability 2^-143) is drawn again
  }
}

Result<Serial> Serial::FromBytes(std::span<const uint8_t> big_endian) {
  size_t skip = 0;
  while (skip < big_endian.size() && big_endian[skip] == 0) ++skip;
  if (skip == big_endian.size()) return BadSerial("zero (serial numbers are positive)");
  if (big_endian.size() - skip > kSerialMaxOctets) return BadSerial("longer than 20 octets");
  return Serial{std::vector<uint8_t>(big_endian.begin() + static_cast<std::ptrdiff_t>(skip),
                                     big_endian.end())};
}

Result<Serial> Serial::FromHex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  Result<Serial> serial = bytes ? FromBytes(*bytes) : BadSerial("not hex");
  if (!serial || serial->Hex() != hex) {
    return BadSerial("'" + std::string(hex) +
                     "' is not canonical (lower-case hex, even length, no leading zero octet)");
  }
  return serial;
}

Result<Serial> Serial::FromOperatorHex(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return BadSerial("'" + std::string(text) + "' is not hex");
    }
    digits.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (digits.empty()) return BadSerial("empty");
  if (digits.size() % 2 != 0) digits.insert(digits.begin(), '0');
  Bytes bytes = CA_TRY(HexDecode(digits));
  return FromBytes(bytes);
}

Result<Serial> Serial::FromAsn1(const ASN1_INTEGER* value) {
  if (value == nullptr) return BadSerial("missing");
  if (ASN1_STRING_type(value) == V_ASN1_NEG_INTEGER) return BadSerial("negative");
  return FromBytes({ASN1_STRING_get0_data(value), static_cast<size_t>(ASN1_STRING_length(value))});
}

Result<Serial> Serial::FromCert(const X509* cert) {
  if (cert == nullptr) return BadSerial("no certificate");
  return FromAsn1(X509_get0_serialNumber(cert));
}

std::string Serial::Hex() const {
  return HexEncode(magnitude);
}

Status Serial::Validate() const {
  if (magnitude.empty()) return BadSerial("zero");
  // DER adds a 0x00 octet in front of a magnitude whose top bit is set.
  size_t der_octets = magnitude.size() + ((magnitude[0] & 0x80) != 0 ? 1 : 0);
  if (der_octets > kSerialMaxOctets) {
    return BadSerial(std::to_string(der_octets) + " octets exceed 20 (RFC 5280)");
  }
  return Ok();
}

Result<ossl::Asn1Integer> Serial::ToAsn1() const {
  if (magnitude.empty()) return BadSerial("zero");
  ossl::Bn bn(BN_bin2bn(magnitude.data(), static_cast<int>(magnitude.size()), nullptr));
  if (!bn) return ossl::CryptoFail("serial to BIGNUM");
  ossl::Asn1Integer out(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!out) return ossl::CryptoFail("serial to INTEGER");
  return out;
}

}  // namespace ca::pki
