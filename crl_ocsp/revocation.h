// Vocabulary shared by the CRL and OCSP builders, the status store and the status server:
// certificate status. Serials, reasons and times are pki/'s.
#pragma once

#include <cstdint>
#include <vector>

#include "pki/revocation_reason.h"
#include "pki/serial.h"
#include "pki/time.h"

namespace ca::crl_ocsp {

using Bytes = std::vector<uint8_t>;
using Time = pki::Time;

enum class CertStatus { kGood, kRevoked };

}  // namespace ca::crl_ocsp
