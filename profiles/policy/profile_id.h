// The certificate profiles. Shared by the policy (who may get which profile) and issuance
// (what a certificate of that profile contains). kAllProfiles is the one list of the shipped
// profiles: every other list of them (data files required, metrics labels, CLI help) is derived
// from it. An operator may define more profiles (a data file of their own, profiles/README.md):
// their ids are any well-formed name, and whether one exists is the loaded profile set's answer
// (issuance::LoadProfiles), not this header's.
#pragma once

#include <array>
#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace ca::profiles::policy {

// A profile's name: 1..32 characters, an upper-case letter then upper-case letters, digits or '_'.
// A literal type (fixed storage) so that the shipped ids and kAllProfiles stay constexpr.
class ProfileId {
 public:
  static constexpr size_t kMaxNameLength = 32;

  // The shipped profiles. SSL_SHORT: short-lived certificates for automated services (no OCSP, no
  // CRL pointer; SC-063).
  static const ProfileId kSsl, kSslRgs, kWild, kSslShort;

  constexpr ProfileId() : ProfileId("SSL") {}

  static constexpr bool IsWellFormedName(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength || name[0] < 'A' || name[0] > 'Z')
      return false;
    for (char c : name) {
      if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
  }
  // Any well-formed name; nullopt otherwise.
  static constexpr std::optional<ProfileId> FromName(std::string_view name) {
    if (!IsWellFormedName(name)) return std::nullopt;
    return ProfileId(name);
  }

  constexpr std::string_view name() const { return std::string_view(name_.data(), size_); }
  constexpr bool operator==(const ProfileId& other) const { return name() == other.name(); }
  constexpr auto operator<=>(const ProfileId& other) const { return name() <=> other.name(); }

 private:
  constexpr explicit ProfileId(std::string_view name) : size_(name.size()) {
    for (size_t i = 0; i < name.size() && i < kMaxNameLength; ++i) name_[i] = name[i];
  }
  std::array<char, kMaxNameLength> name_{};
  size_t size_ = 0;
};

inline constexpr ProfileId ProfileId::kSsl = ProfileId("SSL");
inline constexpr ProfileId ProfileId::kSslRgs = ProfileId("SSL_RGS");
inline constexpr ProfileId ProfileId::kWild = ProfileId("WILD");
inline constexpr ProfileId ProfileId::kSslShort = ProfileId("SSL_SHORT");

inline constexpr std::array<ProfileId, 4> kAllProfiles = {ProfileId::kSsl, ProfileId::kSslRgs,
                                                          ProfileId::kWild, ProfileId::kSslShort};

// The view lives as long as `p`.
constexpr std::string_view ProfileName(const ProfileId& p) {
  return p.name();
}

// One of the shipped profiles (kAllProfiles)?
constexpr bool IsShippedProfile(const ProfileId& p) {
  for (const ProfileId& s : kAllProfiles) {
    if (s == p) return true;
  }
  return false;
}

// Exact, case-sensitive: a well-formed profile name (a shipped one or an operator's; whether the
// profile exists is for the loaded profile set to say).
constexpr std::optional<ProfileId> ParseProfile(std::string_view name) {
  return ProfileId::FromName(name);
}

// "SSL, SSL_RGS, WILD, SSL_SHORT", for help texts and error messages.
inline std::string ProfileNameList(std::string_view separator = ", ") {
  std::string out;
  for (const ProfileId& p : kAllProfiles) {
    if (!out.empty()) out += separator;
    out += ProfileName(p);
  }
  return out;
}

}  // namespace ca::profiles::policy
