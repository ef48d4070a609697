// Errors as values: every fallible operation returns Result<T> = std::expected<T, Error>.
// ErrorCode is closed; modules add detail in the message, never new ad-hoc codes at call sites.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace ca {

enum class ErrorCode {
  kInvalidArgument,     // caller supplied bad input (config, CSR, flag)
  kNotFound,            // key, record, file, account does not exist
  kAlreadyExists,       // refusing to overwrite / duplicate
  kFailedPrecondition,  // illegal state transition, wrong order of operations
  kPermissionDenied,    // policy refusal, authentication failure, wrong PIN
  kUnavailable,         // transient: token removed, peer down; caller may retry
  kCrypto,              // OpenSSL failure or a signature that does not verify
  kHsm,                 // PKCS#11 failure (message names the CKR_* code and the operation)
  kIo,                  // filesystem / socket failure
  kCorrupt,             // stored data fails integrity or schema checks
  kResourceExhausted,   // limits: sizes, rates, pool exhaustion
  kInternal,            // a bug: invariant violated
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;

  // "kNotFound: no key labelled 'x'" style one-liner for logs and CLIs.
  std::string ToString() const;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

inline Status Ok() { return {}; }

}  // namespace ca

// Propagates the error of a Result-returning expression; otherwise yields its value.
#define CA_TRY(expr)                                                    \
  ({                                                                    \
    auto ca_try_result_ = (expr);                                       \
    if (!ca_try_result_) return std::unexpected(ca_try_result_.error()); \
    std::move(*ca_try_result_);                                         \
  })

// Same for Status (Result<void>).
#define CA_TRY_STATUS(expr)                                             \
  do {                                                                  \
    auto ca_try_status_ = (expr);                                       \
    if (!ca_try_status_) return std::unexpected(ca_try_status_.error()); \
  } while (0)
