// Vocabulary shared by the CRL and OCSP builders, the status store and the status server:
// certificate status and times (serials and reasons are pki/'s).
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
#include "pki/revocation_reason.h"
#include "pki/serial.h"

namespace ca::status {

using Bytes = std::vector<uint8_t>;
using Time = std::chrono::sys_seconds;

// TEMP(s13): removed after the merge (the reasons live in pki/revocation_reason.h).
using pki::ParseReason;       // TEMP(s13)
using pki::ReasonFromCode;    // TEMP(s13)
using pki::ReasonName;        // TEMP(s13)
using pki::RevocationReason;  // TEMP(s13)

enum class CertStatus { kGood, kRevoked };

using Serial = pki::Serial;  // TEMP(s13): removed after the merge

// Time conversions through OpenSSL (ASN1_TIME picks UTCTime before 2050, RFC 5280).
Result<ossl::Asn1Time> ToAsn1Time(Time t);
Result<Time> FromAsn1Time(const ASN1_TIME* t);
Time Now();

}  // namespace ca::status
