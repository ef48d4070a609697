#include "gateway/nonce.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log.h"

namespace ca::gateway {

namespace {
constexpr size_t kMacBytes = 16;
constexpr size_t kNonceBytes = 8 + 8 + kMacBytes;
constexpr size_t kMaxGatewayIdBytes = 32;

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
    case NonceCheck::kUnavailable:
      return "could not be redeemed (store unavailable)";
  }
  return "invalid";
}

int64_t NonceService::SteadySeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool ValidGatewayId(std::string_view id) {
  if (id.empty() || id.size() > kMaxGatewayIdBytes) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Result<Bytes> LoadNonceKeyFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Fail(ErrorCode::kNotFound, "nonce key file " + path + ": " + std::strerror(errno));
  if ((st.st_mode & (S_IRWXO | S_IWGRP | S_IXGRP)) != 0)
    return Fail(
        ErrorCode::kPermissionDenied,
        "nonce key file " + path + " is accessible by others or group-writable (chmod 0640 it)");
  std::string content = CA_TRY(ossl::ReadFile(path));
  Bytes key(content.begin(), content.end());
  OPENSSL_cleanse(content.data(), content.size());
  if (key.size() != kNonceKeyBytes)
    return Fail(ErrorCode::kInvalidArgument, "nonce key file " + path + ": expected " +
                                                 std::to_string(kNonceKeyBytes) + " bytes, found " +
                                                 std::to_string(key.size()));
  return key;
}

NonceService::NonceService(int64_t lifetime_seconds, Bytes key, MonotonicClock clock)
    : NonceService(lifetime_seconds, std::move(key), std::move(clock), "", nullptr) {}

NonceService::NonceService(int64_t lifetime_seconds, SharedNonceOptions shared)
    : NonceService(lifetime_seconds, std::move(shared.key), std::move(shared.wall_clock),
                   std::move(shared.gateway_id), std::move(shared.redeem)) {
  // Random start: a restarted gateway never repeats a (counter, second) pair it issued before.
  Bytes start = RandomBytes(8);
  next_counter_ = GetU64(start.data()) >> 1;
}

NonceService::NonceService(int64_t lifetime_seconds, Bytes key, MonotonicClock clock,
                           std::string gateway_id, NonceRedeemer redeem)
    : lifetime_(lifetime_seconds),
      key_(std::move(key)),
      clock_(std::move(clock)),
      gateway_id_(std::move(gateway_id)),
      redeem_(std::move(redeem)) {
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

Bytes NonceService::Mac(const uint8_t* data, size_t size) const {
  uint8_t mac[EVP_MAX_MD_SIZE];
  ossl::Owned<EVP_MAC_CTX, EVP_MAC_CTX_free> ctx(keyed_hmac_ ? EVP_MAC_CTX_dup(keyed_hmac_.get())
                                                             : nullptr);
  size_t out_len = 0;
  if (ctx && EVP_MAC_update(ctx.get(), data, size) == 1 &&
      EVP_MAC_final(ctx.get(), mac, &out_len, sizeof mac) == 1 && out_len >= kMacBytes)
    return Bytes(mac, mac + kMacBytes);
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), data, size, mac, &len);
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
  if (shared()) {
    raw.push_back(static_cast<uint8_t>(gateway_id_.size()));
    raw.insert(raw.end(), gateway_id_.begin(), gateway_id_.end());
  }
  PutU64(raw, counter);
  PutU64(raw, static_cast<uint64_t>(now));
  Bytes mac = Mac(raw.data(), raw.size());
  raw.insert(raw.end(), mac.begin(), mac.end());
  return Base64UrlEncode(raw);
}

NonceCheck NonceService::Consume(std::string_view nonce) {
  auto raw = Base64UrlDecode(nonce);
  if (!raw) return NonceCheck::kMalformed;
  if (shared()) return ConsumeShared(*raw);
  const int64_t now = clock_();
  if (raw->size() != kNonceBytes) return NonceCheck::kMalformed;
  uint64_t counter = GetU64(raw->data());
  auto issued_at = static_cast<int64_t>(GetU64(raw->data() + 8));
  Bytes mac = Mac(raw->data(), 16);
  if (CRYPTO_memcmp(mac.data(), raw->data() + 16, kMacBytes) != 0) return NonceCheck::kForged;
  if (now - issued_at > lifetime_ || issued_at > now + 5) return NonceCheck::kExpired;
  std::lock_guard lock(mu_);
  Prune(now);
  if (counter <= pruned_floor_) return NonceCheck::kExpired;
  if (!used_.insert(counter).second) return NonceCheck::kReplayed;
  used_by_time_.insert({issued_at, counter});
  return NonceCheck::kOk;
}

NonceCheck NonceService::ConsumeShared(const Bytes& raw) {
  // len(1) || gateway id || counter(8) || issued_at(8) || MAC(16)
  if (raw.empty() || raw[0] == 0 || raw[0] > kMaxGatewayIdBytes ||
      raw.size() != 1 + raw[0] + 16 + kMacBytes) {
    return NonceCheck::kMalformed;
  }
  const size_t signed_size = raw.size() - kMacBytes;
  Bytes mac = Mac(raw.data(), signed_size);
  if (CRYPTO_memcmp(mac.data(), raw.data() + signed_size, kMacBytes) != 0)
    return NonceCheck::kForged;
  const auto issued_at = static_cast<int64_t>(GetU64(raw.data() + signed_size - 8));
  const int64_t now = clock_();
  if (now - issued_at > lifetime_ || issued_at > now + kMaxClockSkewSeconds)
    return NonceCheck::kExpired;
  std::string_view id(reinterpret_cast<const char*>(raw.data()), signed_size);
  Status redeemed = redeem_(id, issued_at + lifetime_);
  if (redeemed) return NonceCheck::kOk;
  if (redeemed.error().code == ErrorCode::kAlreadyExists) return NonceCheck::kReplayed;
  log::Error("nonce_redeem_failed", {{"error", redeemed.error().ToString()}});
  return NonceCheck::kUnavailable;
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
