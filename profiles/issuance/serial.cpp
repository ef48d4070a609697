#include "profiles/issuance/serial.h"

#include "common/encoding.h"

namespace ca::issuance {

Serial GenerateSerial() {
  for (;;) {
    Bytes raw = RandomBytes(kSerialRandomBytes);
    raw[0] &= 0x7f;
    size_t first = 0;
    while (first < raw.size() && raw[first] == 0) ++first;
    if (first == raw.size()) continue;  // zero: probability 2^-143, but never issue it
    return Serial(raw.begin() + static_cast<std::ptrdiff_t>(first), raw.end());
  }
}

std::string SerialToHex(std::span<const uint8_t> serial) {
  return HexEncode(serial);
}

Status ValidateSerial(std::span<const uint8_t> serial) {
  if (serial.empty()) return Fail(ErrorCode::kInvalidArgument, "serial: zero");
  if (serial[0] == 0) return Fail(ErrorCode::kInvalidArgument, "serial: leading zero octet");
  // DER adds a 0x00 octet in front of a magnitude whose top bit is set.
  size_t der_octets = serial.size() + ((serial[0] & 0x80) != 0 ? 1 : 0);
  if (der_octets > kSerialMaxOctets) {
    return Fail(ErrorCode::kInvalidArgument,
                "serial: " + std::to_string(der_octets) + " octets exceed 20 (RFC 5280)");
  }
  return Ok();
}

Result<Serial> SerialFromHex(std::string_view hex) {
  Bytes bytes = CA_TRY(HexDecode(hex));
  CA_TRY_STATUS(ValidateSerial(bytes));
  return bytes;
}

Result<ossl::Asn1Integer> SerialToAsn1(std::span<const uint8_t> serial) {
  CA_TRY_STATUS(ValidateSerial(serial));
  ossl::Bn bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn) return ossl::CryptoFail("serial to BIGNUM");
  ossl::Asn1Integer out(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!out) return ossl::CryptoFail("serial to INTEGER");
  return out;
}

Result<Serial> SerialFromAsn1(const ASN1_INTEGER* integer) {
  if (integer == nullptr) return Fail(ErrorCode::kInvalidArgument, "serial: missing");
  ossl::Bn bn(ASN1_INTEGER_to_BN(integer, nullptr));
  if (!bn) return ossl::CryptoFail("serial from INTEGER");
  if (BN_is_negative(bn.get())) return Fail(ErrorCode::kInvalidArgument, "serial: negative");
  if (BN_is_zero(bn.get())) return Fail(ErrorCode::kInvalidArgument, "serial: zero");
  Serial out(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

}  // namespace ca::issuance
