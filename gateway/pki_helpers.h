// The PKI basics the gateway handlers use, in one place so that they can be replaced by the
// shared PKI layer (issue 13) in one edit.
#pragma once

#include <cstdint>
#include <string>

namespace ca::gateway {

// Serial hex as the gateway stores and logs it: lower case, no leading zeros ("0" for zero).
std::string NormalizeSerial(std::string hex);
// RFC 3339 UTC, seconds precision: "2024-01-02T03:04:05Z".
std::string Rfc3339(int64_t unix_seconds);

}  // namespace ca::gateway
