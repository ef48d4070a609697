#include "crl_ocsp/revocation.h"

#include <openssl/bn.h>

#include <array>
#include <utility>

#include "common/encoding.h"

namespace ca::status {

namespace {
constexpr std::array<std::pair<RevocationReason, std::string_view>, 8> kReasons{{
    {RevocationReason::kUnspecified, "unspecified"},
    {RevocationReason::kKeyCompromise, "keyCompromise"},
    {RevocationReason::kCaCompromise, "cACompromise"},
    {RevocationReason::kAffiliationChanged, "affiliationChanged"},
    {RevocationReason::kSuperseded, "superseded"},
    {RevocationReason::kCessationOfOperation, "cessationOfOperation"},
    {RevocationReason::kPrivilegeWithdrawn, "privilegeWithdrawn"},
    {RevocationReason::kAaCompromise, "aACompromise"},
}};
constexpr size_t kMaxSerialOctets = 20;  // RFC 5280 §4.1.2.2
}  // namespace

std::string_view ReasonName(RevocationReason reason) {
  for (const auto& [r, name] : kReasons) {
    if (r == reason) return name;
  }
  return "invalid";
}

Result<RevocationReason> ParseReason(std::string_view name) {
  for (const auto& [r, n] : kReasons) {
    if (n == name) return r;
  }
  return Fail(ErrorCode::kInvalidArgument,
              "unknown or refused revocation reason '" + std::string(name) +
                  "' (certificateHold and removeFromCRL are never issued)");
}

Result<RevocationReason> ReasonFromCode(int code) {
  for (const auto& [r, n] : kReasons) {
    if (static_cast<int>(r) == code) return r;
  }
  return Fail(ErrorCode::kInvalidArgument,
              "unknown or refused CRLReason code " + std::to_string(code));
}

Result<Serial> Serial::FromBytes(std::span<const uint8_t> big_endian) {
  size_t skip = 0;
  while (skip < big_endian.size() && big_endian[skip] == 0) ++skip;
  if (skip == big_endian.size()) {
    return Fail(ErrorCode::kInvalidArgument, "serial number must be positive");
  }
  if (big_endian.size() - skip > kMaxSerialOctets) {
    return Fail(ErrorCode::kInvalidArgument, "serial number longer than 20 octets");
  }
  return Serial{Bytes(big_endian.begin() + static_cast<std::ptrdiff_t>(skip), big_endian.end())};
}

Result<Serial> Serial::FromHex(std::string_view hex) {
  std::string even(hex);
  if (even.size() % 2 != 0) even.insert(even.begin(), '0');
  auto bytes = HexDecode(even);
  if (!bytes) {
    return Fail(ErrorCode::kInvalidArgument, "serial '" + std::string(hex) + "' is not hex");
  }
  return FromBytes(*bytes);
}

Result<Serial> Serial::FromAsn1(const ASN1_INTEGER* value) {
  if (value == nullptr) return Fail(ErrorCode::kInvalidArgument, "missing serial number");
  if (ASN1_STRING_type(value) == V_ASN1_NEG_INTEGER) {
    return Fail(ErrorCode::kInvalidArgument, "negative serial number");
  }
  return FromBytes({ASN1_STRING_get0_data(value), static_cast<size_t>(ASN1_STRING_length(value))});
}

Result<Serial> Serial::FromCert(const X509* cert) {
  return FromAsn1(X509_get0_serialNumber(cert));
}

std::string Serial::Hex() const {
  return HexEncode(magnitude);
}

Result<ossl::Asn1Integer> Serial::ToAsn1() const {
  ossl::Bn bn(BN_bin2bn(magnitude.data(), static_cast<int>(magnitude.size()), nullptr));
  if (!bn) return ossl::CryptoFail("serial to BIGNUM");
  ossl::Asn1Integer out(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!out) return ossl::CryptoFail("serial to ASN1_INTEGER");
  return out;
}

Result<ossl::Asn1Time> ToAsn1Time(Time t) {
  ossl::Asn1Time out(ASN1_TIME_set(nullptr, static_cast<time_t>(t.time_since_epoch().count())));
  if (!out) return ossl::CryptoFail("encode time");
  return out;
}

Result<Time> FromAsn1Time(const ASN1_TIME* t) {
  if (t == nullptr) return Fail(ErrorCode::kInvalidArgument, "missing time");
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return ossl::CryptoFail("decode time");
  return Time(std::chrono::seconds(timegm(&tm)));
}

Time Now() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

}  // namespace ca::status
