// CKR_* names and the mapping from PKCS#11 return values to ca::Error.
#pragma once

#include <p11-kit/pkcs11.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace ca::hsm {

// "CKR_DEVICE_ERROR"; vendor codes as "CKR_VENDOR_DEFINED+0x..."; unknown codes as "CKR_0x...".
std::string CkrName(CK_RV rv);

// Codes after which the token reopens its sessions, logs in again and retries once.
bool IsRecoverable(CK_RV rv);

// Codes that mean the PIN itself is wrong or unusable: never retried (token lockout).
bool IsPinFailure(CK_RV rv);

// Error{code, "<operation>: CKR_..."}: kPermissionDenied for PIN failures, kUnavailable for
// recoverable codes, kHsm otherwise.
Error CkrError(std::string_view operation, CK_RV rv);
inline std::unexpected<Error> CkrFail(std::string_view operation, CK_RV rv) {
  return std::unexpected<Error>(CkrError(operation, rv));
}

}  // namespace ca::hsm
