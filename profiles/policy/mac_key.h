// External-account MAC keys (POL-3): 256 bits from the CSPRNG, shown once as base64url, stored
// wrapped with AES-256-GCM under a wrapping key, the KeyID as additional authenticated data (a
// wrapped key copied to another account does not unwrap).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secret.h"
#include "profiles/policy/model.h"

namespace ca::profiles::policy {

inline constexpr size_t kMacKeyBytes = 32;
inline constexpr size_t kWrapKeyBytes = 32;

// Creates the wrapping-key file (32 random bytes as base64url text) with mode 0440, owned by the
// caller and, when `group` is non-empty, by that group; refuses to overwrite an existing file.
Status CreateWrapKeyFile(const std::string& path, const std::string& group);

// Reads the wrapping key. The file must be a regular file that neither group members may write nor
// others may access (0400, 0440, 0600 or 0640: the RA and the gateway share it through a group).
Result<Secret> LoadWrapKey(const std::string& path);

// A fresh MAC key: kMacKeyBytes raw bytes.
Secret GenerateMacKey();

// base64url without padding, the form given to the client once.
std::string MacKeyToText(const Secret& mac_key);

// Wraps `mac_key` for `kid`: base64url(nonce || ciphertext || tag).
Result<std::string> WrapMacKey(std::string_view kid, const Secret& mac_key, const Secret& wrap_key);

// Unwraps the account's MAC key (raw bytes); kCrypto if the record was tampered with, belongs to
// another KeyID, or the wrapping key is wrong.
Result<Secret> UnwrapMacKey(const ExternalAccount& account, const Secret& wrap_key);

}  // namespace ca::profiles::policy
