#include <openssl/evp.h>

#include "appliance/ceremony/key_store.h"

namespace ca::appliance::ceremony {

namespace {

Result<CeremonyKey> FromHsmKey(std::shared_ptr<hsm::HsmKey> key) {
  CeremonyKey out{key->label(), key->id(), key->type(), nullptr, nullptr};
  EVP_PKEY* pub = const_cast<EVP_PKEY*>(key->public_key());
  if (EVP_PKEY_up_ref(pub) != 1) return ossl::CryptoFail("EVP_PKEY_up_ref");
  out.public_key = ossl::Pkey(pub);
  out.signer = CA_TRY(hsm::ToEvpPkey(std::move(key)));
  return out;
}

class HsmKeyStore : public KeyStore {
 public:
  explicit HsmKeyStore(std::shared_ptr<hsm::Token> token) : token_(std::move(token)) {}

  Result<bool> HasObject(const std::string& label) override { return token_->HasObject(label); }

  Result<CeremonyKey> Generate(hsm::KeyType type, const std::string& label) override {
    return FromHsmKey(CA_TRY(token_->GenerateKeyPair(type, label)));
  }

  Result<CeremonyKey> Find(const std::string& label) override {
    return FromHsmKey(CA_TRY(token_->FindKey(label)));
  }

  Status StoreCertificate(const std::string& label, const std::vector<uint8_t>& id,
                          const X509* cert) override {
    return token_->StoreCertificate(label, id, cert);
  }

 private:
  std::shared_ptr<hsm::Token> token_;
};

class HsmTokenProvider : public TokenProvider {
 public:
  Status InitToken(const std::string& module_path, const std::string& token_label,
                   const Secret& so_pin, const Secret& user_pin) override {
    return hsm::InitToken(module_path, token_label, so_pin, user_pin);
  }

  Result<std::unique_ptr<KeyStore>> Open(const std::string& module_path,
                                         const std::string& token_label, Secret user_pin) override {
    hsm::TokenConfig config;
    config.module_path = module_path;
    config.token_label = token_label;
    config.pool_size = 1;
    auto token = CA_TRY(hsm::Token::Open(config, std::move(user_pin)));
    return std::unique_ptr<KeyStore>(new HsmKeyStore(std::move(token)));
  }
};

}  // namespace

std::unique_ptr<TokenProvider> NewHsmTokenProvider() {
  return std::make_unique<HsmTokenProvider>();
}

}  // namespace ca::appliance::ceremony
