// The certificate profiles. Shared by the policy (who may get which profile) and issuance
// (what a certificate of that profile contains). kAllProfiles is the one list of them: every
// other list (data files loaded, directory meta, metrics labels, CLI help) is derived from it.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace ca::profiles::policy {

// SSL_SHORT: short-lived certificates for automated services (no OCSP, no CRL pointer; SC-063).
enum class ProfileId { kSsl, kSslRgs, kWild, kSslShort };

inline constexpr std::array<ProfileId, 4> kAllProfiles = {ProfileId::kSsl, ProfileId::kSslRgs,
                                                          ProfileId::kWild, ProfileId::kSslShort};

constexpr std::string_view ProfileName(ProfileId p) {
  switch (p) {
    case ProfileId::kSsl: return "SSL";
    case ProfileId::kSslRgs: return "SSL_RGS";
    case ProfileId::kWild: return "WILD";
    case ProfileId::kSslShort: return "SSL_SHORT";
  }
  return "SSL";
}

// Exact, case-sensitive: one of the ProfileName()s of kAllProfiles.
constexpr std::optional<ProfileId> ParseProfile(std::string_view name) {
  for (ProfileId p : kAllProfiles) {
    if (ProfileName(p) == name) return p;
  }
  return std::nullopt;
}

// "SSL, SSL_RGS, WILD, SSL_SHORT", for help texts and error messages.
inline std::string ProfileNameList(std::string_view separator = ", ") {
  std::string out;
  for (ProfileId p : kAllProfiles) {
    if (!out.empty()) out += separator;
    out += ProfileName(p);
  }
  return out;
}

}  // namespace ca::profiles::policy
