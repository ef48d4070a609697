// The token as the ceremony sees it. The production implementation (hsm_key_store.cpp) wraps
// hsm::Token; unit tests use an in-memory store with software keys. Signing always goes through an
// EVP_PKEY, so certificate code is the same for both.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "common/result.h"
#include "common/secret.h"
#include "hsm/token.h"

namespace ca::appliance::ceremony {

struct CeremonyKey {
  std::string label;
  std::vector<uint8_t> id;  // CKA_ID
  hsm::KeyType type;
  ossl::Pkey signer;      // private-key operations happen in the token
  ossl::Pkey public_key;  // software copy of the public half
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  virtual Result<bool> HasObject(const std::string& label) = 0;
  virtual Result<CeremonyKey> Generate(hsm::KeyType type, const std::string& label) = 0;
  virtual Result<CeremonyKey> Find(const std::string& label) = 0;
  virtual Status StoreCertificate(const std::string& label, const std::vector<uint8_t>& id,
                                  const X509* cert) = 0;
};

class TokenProvider {
 public:
  virtual ~TokenProvider() = default;
  virtual Status InitToken(const std::string& module_path, const std::string& token_label,
                           const Secret& so_pin, const Secret& user_pin) = 0;
  virtual Result<std::unique_ptr<KeyStore>> Open(const std::string& module_path,
                                                 const std::string& token_label,
                                                 Secret user_pin) = 0;
};

// PKCS#11 through hsm::Token.
std::unique_ptr<TokenProvider> NewHsmTokenProvider();

}  // namespace ca::appliance::ceremony
