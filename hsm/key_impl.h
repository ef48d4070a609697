// Internal: the HsmKey implementation (key.cpp) and helpers the provider shares.
#pragma once

#include <mutex>

#include "hsm/token_impl.h"

namespace ca::hsm {

// The hash of a scheme and its output length.
const EVP_MD* SchemeDigest(SignScheme scheme);
size_t DigestLength(SignScheme scheme);

// Verifies a signature over a digest with a software public key (default provider).
Status VerifyDigestSignature(const EVP_PKEY* public_key, SignScheme scheme,
                             std::span<const uint8_t> digest, std::span<const uint8_t> signature);

class HsmKeyImpl final : public HsmKey {
 public:
  HsmKeyImpl(std::shared_ptr<TokenImpl> token, std::string label, LocatedKey located,
             uint64_t generation);

  const std::string& label() const override { return label_; }
  const Bytes& id() const override { return id_; }
  KeyType type() const override { return type_; }
  const EVP_PKEY* public_key() const override { return public_key_.get(); }
  Result<Bytes> SignDigest(SignScheme scheme, std::span<const uint8_t> digest) override;
  Result<Bytes> Sign(SignScheme scheme, std::span<const uint8_t> data) override;

 private:
  // The private key handle valid in the lease's generation (found again after a recovery).
  Result<CK_OBJECT_HANDLE> HandleFor(const Lease& lease);
  Result<Bytes> RawSign(const Lease& lease, CK_MECHANISM* mechanism,
                        std::span<const uint8_t> input);

  std::shared_ptr<TokenImpl> token_;
  std::string label_;
  Bytes id_;
  KeyType type_;
  ossl::Pkey public_key_;

  std::mutex mu_;
  CK_OBJECT_HANDLE handle_;
  uint64_t handle_generation_;
};

}  // namespace ca::hsm
