// Times: RFC 3339 text (JSON, logs, operator input) and ASN1_TIME (certificates, CRLs, OCSP).
// One copy of each conversion for every process.
#pragma once

#include <openssl/asn1.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/openssl.h"
#include "common/result.h"

namespace ca::pki {

using Time = std::chrono::sys_seconds;

Time Now();
inline Time FromUnix(int64_t unix_seconds) {
  return Time(std::chrono::seconds(unix_seconds));
}
inline int64_t ToUnix(Time t) {
  return t.time_since_epoch().count();
}

// "2026-01-31T12:00:00Z": UTC, whole seconds (RFC 3339 §5.6 with the "Z" offset).
std::string FormatRfc3339(Time t);
inline std::string FormatRfc3339(int64_t unix_seconds) {
  return FormatRfc3339(FromUnix(unix_seconds));
}
// Exactly the form FormatRfc3339 writes; refuses other offsets, fractions and dates that do not
// exist (2026-02-30). kInvalidArgument.
Result<Time> ParseRfc3339(std::string_view text);

// ASN1_TIME through OpenSSL (UTCTime before 2050, GeneralizedTime after: RFC 5280 §4.1.2.5).
Result<ossl::Asn1Time> ToAsn1Time(Time t);
Result<Time> FromAsn1Time(const ASN1_TIME* t);

}  // namespace ca::pki
