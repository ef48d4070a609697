#include "crl_ocsp/revocation.h"


namespace ca::status {

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
