#include "profiles/policy/dashboard_credential.h"

#include <openssl/crypto.h>

#include "common/encoding.h"

namespace ca::profiles::policy {

namespace {
constexpr size_t kSecretBytes = 32;
constexpr size_t kSecretChars = 43;  // base64url of 32 bytes, unpadded
}  // namespace

bool IsOperatorName(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<DashboardCredentialId> ParseDashboardCredential(std::string_view credential) {
  size_t dot = credential.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  std::string_view id = credential.substr(0, dot);
  std::string_view secret = credential.substr(dot + 1);
  if (secret.size() != kSecretChars || !Base64UrlDecode(secret)) return std::nullopt;
  if (id.starts_with(kOperatorCredentialPrefix)) {
    std::string_view name = id.substr(kOperatorCredentialPrefix.size());
    if (!IsOperatorName(name)) return std::nullopt;
    return DashboardCredentialId{true, std::string(name)};
  }
  if (id.size() > 64 || id.find_first_of(" \t\r\n:") != std::string_view::npos) return std::nullopt;
  return DashboardCredentialId{false, std::string(id)};
}

Secret NewDashboardCredential(std::string_view id) {
  Bytes random = RandomBytes(kSecretBytes);
  std::string text = std::string(id) + "." + Base64UrlEncode(random);
  OPENSSL_cleanse(random.data(), random.size());
  return Secret(std::move(text));
}

std::string DashboardCredentialHash(std::string_view credential) {
  return HexEncode(Sha256(credential));
}

bool DashboardCredentialMatches(std::string_view credential, std::string_view stored_hash_hex) {
  std::string computed = DashboardCredentialHash(credential);
  if (stored_hash_hex.size() != computed.size()) return false;
  return CRYPTO_memcmp(computed.data(), stored_hash_hex.data(), computed.size()) == 0;
}

}  // namespace ca::profiles::policy
