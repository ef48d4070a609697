// Vocabulary shared by the CRL and OCSP builders, the status store and the status server:
// revocation reasons (RFC 5280 §5.3.1), serial numbers and times.
#pragma once

#include <openssl/asn1.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"
#include "pki/serial.h"

namespace ca::status {

using Bytes = std::vector<uint8_t>;
using Time = std::chrono::sys_seconds;

// CRLReason values this CA issues. certificateHold (6) and removeFromCRL (8) are deliberately
// absent: the CA never suspends certificates, so no code path can produce them.
enum class RevocationReason : int {
  kUnspecified = 0,  // never encoded: no reasonCode entry / no revocationReason
  kKeyCompromise = 1,
  kCaCompromise = 2,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
  kPrivilegeWithdrawn = 9,
  kAaCompromise = 10,
};

// RFC 5280 names ("keyCompromise", ...). Parse refuses certificateHold, removeFromCRL and
// anything unknown.
std::string_view ReasonName(RevocationReason reason);
Result<RevocationReason> ParseReason(std::string_view name);
// From the CRLReason integer (8 and 6 refused).
Result<RevocationReason> ReasonFromCode(int code);

enum class CertStatus { kGood, kRevoked };

using Serial = pki::Serial;  // TEMP(s13): removed after the merge

// Time conversions through OpenSSL (ASN1_TIME picks UTCTime before 2050, RFC 5280).
Result<ossl::Asn1Time> ToAsn1Time(Time t);
Result<Time> FromAsn1Time(const ASN1_TIME* t);
Time Now();

}  // namespace ca::status
