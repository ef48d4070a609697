// The three certificate profiles. Shared by the policy (who may get which profile) and issuance
// (what a certificate of that profile contains).
#pragma once

#include <optional>
#include <string_view>

namespace ca::profiles::policy {

enum class ProfileId { kSsl, kSslRgs, kWild };

inline std::string_view ProfileName(ProfileId p) {
  switch (p) {
    case ProfileId::kSsl: return "SSL";
    case ProfileId::kSslRgs: return "SSL_RGS";
    case ProfileId::kWild: return "WILD";
  }
  return "SSL";
}

// Exact, case-sensitive: "SSL", "SSL_RGS", "WILD".
inline std::optional<ProfileId> ParseProfile(std::string_view name) {
  if (name == "SSL") return ProfileId::kSsl;
  if (name == "SSL_RGS") return ProfileId::kSslRgs;
  if (name == "WILD") return ProfileId::kWild;
  return std::nullopt;
}

}  // namespace ca::profiles::policy
