// Internal: the Token implementation with its session pool and recovery, shared by token.cpp and
// key.cpp. Not included outside hsm/.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "hsm/p11.h"
#include "hsm/token.h"

namespace ca::hsm {

// A session borrowed from the pool, tagged with the pool generation it belongs to. Recovery bumps
// the generation; key handles found in an older generation are looked up again.
struct Lease {
  const p11::Session* session = nullptr;
  uint64_t generation = 0;
};

// What a key looks like on the token: the private key handle and the public half.
struct LocatedKey {
  CK_OBJECT_HANDLE private_handle = CK_INVALID_HANDLE;
  KeyType type = KeyType::kRsa3072;
  Bytes id;
  ossl::Pkey public_key;
};

// Finds the private key labelled `label` and reads its public key (from the public key object
// with the same label, or for RSA from the private key's public attributes).
Result<LocatedKey> LocateKey(const p11::Session& session, const std::string& label);

class TokenImpl final : public Token {
 public:
  static Result<std::shared_ptr<TokenImpl>> Create(const TokenConfig& config, Secret user_pin);
  ~TokenImpl() override;

  Result<std::shared_ptr<HsmKey>> GenerateKeyPair(KeyType type, const std::string& label,
                                                  KeyUsage usage) override;
  Result<std::vector<Bytes>> HmacSha256WithWrappedKey(
      const std::string& unwrap_label, std::span<const uint8_t> wrapped,
      const std::vector<std::span<const uint8_t>>& inputs) override;  // wrapped_mac.cpp
  Result<std::shared_ptr<HsmKey>> FindKey(const std::string& label) override;
  Result<bool> HasObject(const std::string& label) override;
  Status StoreCertificate(const std::string& label, const Bytes& id, const X509* cert) override;
  const TokenConfig& config() const override { return config_; }
  Status CloseAllSessionsForTest() override;

  // Runs `op` with a pooled session. When it fails with kUnavailable (a CKR_* code that means
  // the sessions or the login are gone), the token recovers and `op` runs once more.
  template <class T>
  Result<T> Run(const std::function<Result<T>(const Lease&)>& op) {
    for (int attempt = 0;; ++attempt) {
      std::optional<Lease> lease = Acquire();
      uint64_t generation = lease ? lease->generation : Generation();
      Result<T> result = lease ? op(*lease) : std::unexpected(UnavailableError());
      if (lease) Release(*lease);
      if (result || result.error().code != ErrorCode::kUnavailable || attempt > 0) return result;
      CA_TRY_STATUS(Recover(generation));
    }
  }

  const std::string& label() const { return config_.token_label; }

 private:
  TokenImpl(const TokenConfig& config, Secret user_pin, std::shared_ptr<p11::Module> module)
      : config_(config), pin_(std::move(user_pin)), module_(std::move(module)) {}

  // Opens pool_size sessions on the token found by label and logs in. Caller holds recover_mu_
  // (or is the constructor). On success the pool holds the new sessions under a new generation.
  Status OpenPool();
  std::optional<Lease> Acquire();
  void Release(const Lease& lease);
  uint64_t Generation();
  Error UnavailableError();
  // Reopens the pool unless another thread already did since `seen_generation`.
  Status Recover(uint64_t seen_generation);

  TokenConfig config_;
  Secret pin_;
  std::shared_ptr<p11::Module> module_;

  std::mutex recover_mu_;  // one recovery at a time; never held while waiting for pool_mu_ users
  std::optional<Error> pin_failure_;  // set once a login was refused: never log in again

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  CK_SLOT_ID slot_ = 0;
  std::deque<p11::Session> sessions_;      // the current generation's sessions
  std::vector<const p11::Session*> free_;  // not leased
  size_t leased_ = 0;
  uint64_t generation_ = 0;
  bool recovering_ = false;
  std::string last_failure_;  // why the pool is empty, for errors
};

}  // namespace ca::hsm
