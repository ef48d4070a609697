// Internal to hsm/: what the seam provider's three files share (provider.cpp registers the
// provider, provider_keymgmt.cpp implements KEYMGMT, provider_signature.cpp SIGNATURE).
#pragma once

#include <openssl/core_dispatch.h>

#include <memory>
#include <optional>
#include <string>

#include "hsm/key_impl.h"

namespace ca::hsm::seam {

inline constexpr const char* kProviderName = "hsm-seam";
inline constexpr const char* kProps = "provider=hsm-seam";
// Custom import parameter: an octet pointer to a std::shared_ptr<HsmKey>.
inline constexpr const char* kHsmKeyParam = "ca-hsm-key";

inline bool IsRsa(KeyType t) {
  return t == KeyType::kRsa3072 || t == KeyType::kRsa4096;
}

// The last HSM error of a signature on this thread (TakeLastSeamError hands it to the caller).
extern thread_local std::optional<Error> t_last_seam_error;

void RaiseError(int reason, const std::string& message);

// The provider-side key object: an HsmKey and its software public key.
struct SeamKey {
  bool ec = false;
  std::shared_ptr<HsmKey> hsm;  // null for a public-only key imported for comparison
  ossl::Pkey pub;               // software public key (default provider)
};

// OSSL_DISPATCH wants untyped function pointers.
template <class F>
void (*Fn(F f))() {
  return reinterpret_cast<void (*)()>(f);
}

extern const OSSL_DISPATCH kRsaKeymgmt[];
extern const OSSL_DISPATCH kEcKeymgmt[];
extern const OSSL_DISPATCH kRsaSignature[];
extern const OSSL_DISPATCH kEcdsaSignature[];

}  // namespace ca::hsm::seam
