#include "gateway/nonce.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>

namespace ca::gateway {

namespace {
constexpr size_t kMacBytes = 16;
constexpr size_t kNonceBytes = 8 + 8 + kMacBytes;

void PutU64(Bytes& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

std::string_view NonceCheckName(NonceCheck c) {
  switch (c) {
    case NonceCheck::kOk:
      return "ok";
    case NonceCheck::kMalformed:
      return "malformed";
    case NonceCheck::kForged:
      return "unknown to this server (forged or from before a restart)";
    case NonceCheck::kExpired:
      return "expired";
    case NonceCheck::kReplayed:
      return "already used";
  }
  return "invalid";
}

int64_t NonceService::SteadySeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

NonceService::NonceService(int64_t lifetime_seconds, Bytes key, MonotonicClock clock)
    : lifetime_(lifetime_seconds), key_(std::move(key)), clock_(std::move(clock)) {
  ossl::Owned<EVP_MAC, EVP_MAC_free> hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  ossl::Owned<EVP_MAC_CTX, EVP_MAC_CTX_free> ctx(hmac ? EVP_MAC_CTX_new(hmac.get()) : nullptr);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  if (ctx && EVP_MAC_init(ctx.get(), key_.data(), key_.size(), params) == 1)
    keyed_hmac_ = std::move(ctx);
  else
    ossl::DrainErrors();  // Mac() falls back to one-shot HMAC()
}

Bytes NonceService::Mac(uint64_t counter, int64_t issued_at) const {
  Bytes msg;
  PutU64(msg, counter);
  PutU64(msg, static_cast<uint64_t>(issued_at));
  uint8_t mac[EVP_MAX_MD_SIZE];
  ossl::Owned<EVP_MAC_CTX, EVP_MAC_CTX_free> ctx(keyed_hmac_ ? EVP_MAC_CTX_dup(keyed_hmac_.get())
                                                             : nullptr);
  size_t out_len = 0;
  if (ctx && EVP_MAC_update(ctx.get(), msg.data(), msg.size()) == 1 &&
      EVP_MAC_final(ctx.get(), mac, &out_len, sizeof mac) == 1 && out_len >= kMacBytes)
    return Bytes(mac, mac + kMacBytes);
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), msg.data(), msg.size(), mac, &len);
  return Bytes(mac, mac + kMacBytes);
}

std::string NonceService::Issue() {
  const int64_t now = clock_();
  uint64_t counter;
  {
    std::lock_guard lock(mu_);
    counter = next_counter_++;
  }
  Bytes raw;
  PutU64(raw, counter);
  PutU64(raw, static_cast<uint64_t>(now));
  Bytes mac = Mac(counter, now);
  raw.insert(raw.end(), mac.begin(), mac.end());
  return Base64UrlEncode(raw);
}

NonceCheck NonceService::Consume(std::string_view nonce) {
  const int64_t now = clock_();
  auto raw = Base64UrlDecode(nonce);
  if (!raw || raw->size() != kNonceBytes) return NonceCheck::kMalformed;
  uint64_t counter = GetU64(raw->data());
  auto issued_at = static_cast<int64_t>(GetU64(raw->data() + 8));
  Bytes mac = Mac(counter, issued_at);
  if (CRYPTO_memcmp(mac.data(), raw->data() + 16, kMacBytes) != 0) return NonceCheck::kForged;
  if (now - issued_at > lifetime_ || issued_at > now + 5) return NonceCheck::kExpired;
  std::lock_guard lock(mu_);
  Prune(now);
  if (counter <= pruned_floor_) return NonceCheck::kExpired;
  if (!used_.insert(counter).second) return NonceCheck::kReplayed;
  used_by_time_.insert({issued_at, counter});
  return NonceCheck::kOk;
}

void NonceService::Prune(int64_t now) {
  // A nonce older than the lifetime is refused as expired before the used-set is consulted, so its
  // entry can go: the set holds at most one lifetime's worth of nonces. Counters grow with the
  // (monotonic) issue time, so every counter up to a pruned one is expired too: the floor keeps
  // them refused even if the clock misbehaved.
  while (!used_by_time_.empty() && now - used_by_time_.begin()->first > lifetime_) {
    pruned_floor_ = std::max(pruned_floor_, used_by_time_.begin()->second);
    used_.erase(used_by_time_.begin()->second);
    used_by_time_.erase(used_by_time_.begin());
  }
}

size_t NonceService::used_count() const {
  std::lock_guard lock(mu_);
  return used_.size();
}

}  // namespace ca::gateway
