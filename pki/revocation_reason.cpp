#include "pki/revocation_reason.h"

#include <array>
#include <string>
#include <utility>

namespace ca::pki {

namespace {
constexpr std::array<std::pair<RevocationReason, std::string_view>, 8> kReasons{{
    {RevocationReason::kUnspecified, "unspecified"},
    {RevocationReason::kKeyCompromise, "keyCompromise"},
    {RevocationReason::kCaCompromise, "cACompromise"},
    {RevocationReason::kAffiliationChanged, "affiliationChanged"},
    {RevocationReason::kSuperseded, "superseded"},
    {RevocationReason::kCessationOfOperation, "cessationOfOperation"},
    {RevocationReason::kPrivilegeWithdrawn, "privilegeWithdrawn"},
    {RevocationReason::kAaCompromise, "aACompromise"},
}};
}  // namespace

std::string_view ReasonName(RevocationReason reason) {
  for (const auto& [r, name] : kReasons) {
    if (r == reason) return name;
  }
  return "invalid";
}

Result<RevocationReason> ParseReason(std::string_view name) {
  for (const auto& [r, n] : kReasons) {
    if (n == name) return r;
  }
  return Fail(ErrorCode::kInvalidArgument,
              "unknown or refused revocation reason '" + std::string(name) +
                  "' (certificateHold and removeFromCRL are never issued)");
}

Result<RevocationReason> ReasonFromCode(int64_t code) {
  for (const auto& [r, n] : kReasons) {
    if (static_cast<int>(r) == code) return r;
  }
  return Fail(ErrorCode::kInvalidArgument,
              "unknown or refused CRLReason code " + std::to_string(code));
}

}  // namespace ca::pki
