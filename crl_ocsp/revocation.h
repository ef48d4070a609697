// Vocabulary shared by the CRL and OCSP builders, the status store and the status server:
// certificate status. Serials, reasons and times are pki/'s.
#pragma once

#include <cstdint>
#include <vector>

#include "pki/revocation_reason.h"
#include "pki/serial.h"
#include "pki/time.h"

namespace ca::status {

using Bytes = std::vector<uint8_t>;
using Time = pki::Time;

enum class CertStatus { kGood, kRevoked };

// TEMP(s13): removed after the merge, once crl_builder.* and engine/ca_instance.* say pki::.
using Serial = pki::Serial;   // TEMP(s13)
using pki::FromAsn1Time;      // TEMP(s13)
using pki::Now;               // TEMP(s13)
using pki::ParseReason;       // TEMP(s13)
using pki::ReasonFromCode;    // TEMP(s13)
using pki::ReasonName;        // TEMP(s13)
using pki::RevocationReason;  // TEMP(s13)
using pki::ToAsn1Time;        // TEMP(s13)

}  // namespace ca::status
