// Revocation reasons (RFC 5280 §5.3.1 CRLReason): the one enum and the one name table used by the
// contract, the CRL and OCSP builders, the policy model, the RA and the ceremony.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace ca::pki {

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

// RFC 5280 names ("keyCompromise", ...); "invalid" for a value outside the enum.
std::string_view ReasonName(RevocationReason reason);
// Refuses certificateHold, removeFromCRL and anything unknown (kInvalidArgument).
Result<RevocationReason> ParseReason(std::string_view name);
// From the CRLReason integer (6 and 8 refused).
Result<RevocationReason> ReasonFromCode(int64_t code);
inline int ReasonCode(RevocationReason reason) {
  return static_cast<int>(reason);
}

}  // namespace ca::pki
