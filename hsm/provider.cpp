// The seam: a built-in OpenSSL 3 provider ("hsm-seam") whose RSA and EC keys reference an HsmKey.
// KEYMGMT: the key object holds the HsmKey and its software public key; public parameters are
// exported (so OpenSSL encodes SubjectPublicKeyInfo and compares keys), the private half never.
// SIGNATURE: hashing is done here with the default provider's digests, the private-key operation
// by HsmKey::SignDigest; verification uses the software public key.
//
// Why export refuses a selection that includes the private key: during EVP_DigestSignInit,
// OpenSSL may first pick the default provider's RSA/ECDSA signature and try to export the key to
// the default provider with OSSL_KEYMGMT_SELECT_ALL; refusing makes it fall back to this
// provider's signature instead of signing with a public-only copy. Import accepts public-only
// parameters (never private ones) so EVP_PKEY_eq / X509_check_private_key can compare a
// certificate's public key with an HSM key.
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/proverr.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include <cstring>
#include <mutex>
#include <optional>
#include <utility>

#include "hsm/key_impl.h"
#include "hsm/provider_impl.h"

namespace ca::hsm {
namespace seam {

thread_local std::optional<Error> t_last_seam_error;

void RaiseError(int reason, const std::string& message) {
  ERR_raise_data(ERR_LIB_PROV, reason, "%s", message.c_str());
}

namespace {
// ---------------------------------------------------------------------------------------------
// Provider

const OSSL_ALGORITHM kKeymgmts[] = {
    {"RSA", kProps, kRsaKeymgmt, "HSM-backed RSA key"},
    {"EC", kProps, kEcKeymgmt, "HSM-backed EC key"},
    {nullptr, nullptr, nullptr, nullptr},
};
const OSSL_ALGORITHM kSignatures[] = {
    {"RSA", kProps, kRsaSignature, "RSA signature in the HSM"},
    {"ECDSA", kProps, kEcdsaSignature, "ECDSA signature in the HSM"},
    {nullptr, nullptr, nullptr, nullptr},
};

const OSSL_ALGORITHM* QueryOperation(void*, int operation_id, int* no_cache) {
  *no_cache = 0;
  switch (operation_id) {
    case OSSL_OP_KEYMGMT:
      return kKeymgmts;
    case OSSL_OP_SIGNATURE:
      return kSignatures;
    default:
      return nullptr;
  }
}

const OSSL_DISPATCH kProviderDispatch[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, Fn(&QueryOperation)},
    {0, nullptr},
};

int ProviderInit(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH*, const OSSL_DISPATCH** out,
                 void** provctx) {
  *out = kProviderDispatch;
  *provctx = const_cast<OSSL_CORE_HANDLE*>(handle);
  return 1;
}

Status EnsureProvider() {
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] {
    // Loading any provider explicitly switches off the implicit default: load it first. Both
    // stay loaded for the life of the process.
    if (OSSL_PROVIDER_load(nullptr, "default") == nullptr) {
      status = ossl::CryptoFail("loading the default provider");
      return;
    }
    if (!OSSL_PROVIDER_add_builtin(nullptr, kProviderName, &ProviderInit) ||
        OSSL_PROVIDER_load(nullptr, kProviderName) == nullptr) {
      status = ossl::CryptoFail("loading the hsm-seam provider");
    }
  });
  return status;
}

}  // namespace
}  // namespace seam

std::optional<Error> TakeLastSeamError() {
  return std::exchange(seam::t_last_seam_error, std::nullopt);
}

Result<ossl::Pkey> ToEvpPkey(std::shared_ptr<HsmKey> key) {
  if (key == nullptr) return Fail(ErrorCode::kInvalidArgument, "no HSM key");
  CA_TRY_STATUS(seam::EnsureProvider());
  ossl::PkeyCtx ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, seam::IsRsa(key->type()) ? "RSA" : "EC", seam::kProps));
  // The octet_ptr parameter points at the shared_ptr, which the import copies.
  void* ref = &key;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_ptr(seam::kHsmKeyParam, &ref, sizeof key),
      OSSL_PARAM_construct_end(),
  };
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_KEYPAIR, params) <= 0) {
    return ossl::CryptoFail("making an EVP_PKEY for HSM key '" + key->label() + "'");
  }
  return ossl::Pkey(pkey);
}

}  // namespace ca::hsm
