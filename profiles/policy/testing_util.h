// Test-only helpers for the policy tests: a temporary directory removed at the end of the test.
#pragma once

#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <filesystem>
#include <string>

#include "common/openssl.h"
#include "common/secret.h"

namespace ca::profiles::policy::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ca-policy-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A software stand-in for the HSM's MAC wrapping key (RSA-3072, made once per process), and what
// the HSM does with a wrapped key (C_UnwrapKey, RSA-OAEP SHA-1): for tests without a token.
inline const EVP_PKEY* SoftwareMacWrapKey() {
  static EVP_PKEY* key = EVP_RSA_gen(3072);
  return key;
}
inline Secret SoftwareUnwrap(std::span<const uint8_t> wrapped) {
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, const_cast<EVP_PKEY*>(SoftwareMacWrapKey()), nullptr));
  std::string out(512, '\0');
  size_t len = out.size();
  if (EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<uint8_t*>(out.data()), &len, wrapped.data(),
                       wrapped.size()) != 1)
    return Secret();
  out.resize(len);
  return Secret(std::move(out));
}

}  // namespace ca::profiles::policy::testing
