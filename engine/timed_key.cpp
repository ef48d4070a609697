#include "engine/timed_key.h"

#include <chrono>

namespace ca::engine {
namespace {

class Timed final : public hsm::HsmKey {
 public:
  Timed(std::shared_ptr<hsm::HsmKey> key, SignerKey role, EngineMetrics& metrics)
      : key_(std::move(key)), role_(role), metrics_(metrics) {}

  const std::string& label() const override { return key_->label(); }
  const hsm::Bytes& id() const override { return key_->id(); }
  hsm::KeyType type() const override { return key_->type(); }
  const EVP_PKEY* public_key() const override { return key_->public_key(); }

  Result<hsm::Bytes> SignDigest(hsm::SignScheme scheme, std::span<const uint8_t> digest) override {
    auto start = std::chrono::steady_clock::now();
    auto sig = key_->SignDigest(scheme, digest);
    Observe(start, sig.has_value());
    return sig;
  }
  Result<hsm::Bytes> Sign(hsm::SignScheme scheme, std::span<const uint8_t> data) override {
    auto start = std::chrono::steady_clock::now();
    auto sig = key_->Sign(scheme, data);
    Observe(start, sig.has_value());
    return sig;
  }

 private:
  void Observe(std::chrono::steady_clock::time_point start, bool ok) {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    metrics_.ObserveSign(role_, took.count(), ok);
  }

  std::shared_ptr<hsm::HsmKey> key_;
  SignerKey role_;
  EngineMetrics& metrics_;
};

}  // namespace

std::shared_ptr<hsm::HsmKey> TimedKey(std::shared_ptr<hsm::HsmKey> key, SignerKey role,
                                      EngineMetrics& metrics) {
  return std::make_shared<Timed>(std::move(key), role, metrics);
}

}  // namespace ca::engine
