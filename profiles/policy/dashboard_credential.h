// Dashboard credentials (ANSSI R50): what an external account's holder, or an operator, types into
// the dashboard's login form. The RA issues one (`ca-ra ext-account dashboard-credential KID`,
// `ca-ra dashboard-credential --operator NAME`), prints it once and stores only its SHA-256 in the
// policy store; the dashboard recomputes the hash and compares in constant time.
//
// Form: "<kid>.<secret>" for an external account, "operator:<name>.<secret>" for an operator, the
// secret being 32 random bytes in base64url (no '.', so the last '.' splits id and secret).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/secret.h"

namespace ca::profiles::policy {

inline constexpr std::string_view kOperatorCredentialPrefix = "operator:";

struct DashboardCredentialId {
  bool is_operator = false;
  std::string id;  // the kid, or the operator's name
};

// The id part of a well-formed credential; nullopt for anything else (never says why: the login
// answers the same for a malformed and a wrong credential).
std::optional<DashboardCredentialId> ParseDashboardCredential(std::string_view credential);

// Operator names: 1..32 of [a-z0-9_-].
bool IsOperatorName(std::string_view name);

// A fresh credential for `id` (a kid, or "operator:<name>"), shown once.
Secret NewDashboardCredential(std::string_view id);

// Lower-case hex SHA-256 of the whole credential text: the only form ever stored.
std::string DashboardCredentialHash(std::string_view credential);

// Constant-time comparison of `credential`'s hash with a stored hash (false when none is stored).
bool DashboardCredentialMatches(std::string_view credential, std::string_view stored_hash_hex);

}  // namespace ca::profiles::policy
