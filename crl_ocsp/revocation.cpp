#include "crl_ocsp/revocation.h"

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
