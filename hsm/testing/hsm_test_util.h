// Helpers shared by hsm/*_test.cpp.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>

#include "hsm/testing/softhsm_fixture.h"
#include "hsm/token.h"

namespace ca::hsm {

#define ASSERT_OK(expr)                                                                 \
  ({                                                                                    \
    auto assert_ok_result_ = (expr);                                                    \
    ASSERT_TRUE(assert_ok_result_.has_value()) << assert_ok_result_.error().ToString(); \
    std::move(*assert_ok_result_);                                                      \
  })

// Verifies `sig` over `data` with OpenSSL and the software public key only (no HSM code).
inline bool SoftwareVerify(const EVP_PKEY* pub, SignScheme scheme, const std::string& data,
                           const Bytes& sig) {
  const EVP_MD* md = EVP_sha256();
  bool pss = false;
  switch (scheme) {
    case SignScheme::kRsaPkcs1Sha384:
    case SignScheme::kEcdsaSha384:
      md = EVP_sha384();
      break;
    case SignScheme::kRsaPkcs1Sha512:
      md = EVP_sha512();
      break;
    case SignScheme::kRsaPssSha256:
      pss = true;
      break;
    case SignScheme::kRsaPssSha384:
      pss = true;
      md = EVP_sha384();
      break;
    case SignScheme::kRsaPssSha512:
      pss = true;
      md = EVP_sha512();
      break;
    default:
      break;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = EVP_DigestVerifyInit_ex(ctx, &pctx, EVP_MD_get0_name(md), nullptr, "provider=default",
                                    const_cast<EVP_PKEY*>(pub), nullptr) == 1;
  if (ok && pss) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, EVP_MD_get_size(md)) == 1;
  }
  ok =
      ok && EVP_DigestVerify(ctx, sig.data(), sig.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

inline std::span<const uint8_t> Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace ca::hsm
