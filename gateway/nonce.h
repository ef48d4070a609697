// Replay nonces (RFC 8555 §6.5): unforgeable, single-use, with a bounded lifetime. Two modes.
//
// Single box (no shared key; the default, unchanged): a nonce is base64url(counter(8) ||
// issued_at(8) || HMAC-SHA256(process key, counter||issued_at)[:16]). The key is random per
// process, so nonces from before a restart fail the MAC and the client gets badNonce with a fresh
// Replay-Nonce, which every ACME client retries on. issued_at is read from a monotonic clock
// (seconds since an arbitrary per-process origin), never the wall clock: with the wall clock, a
// step forward pruned the used set and a step back made the pruned nonces young again, so they
// were accepted a second time. Independently of the clock, a counter pruned from the used set is
// below a floor that is refused for good.
//
// Shared (several gateways behind a load balancer, issue 20: the key comes from a file every
// gateway of the pair reads): a nonce is base64url(len(1) || gateway id || counter(8) ||
// issued_at(8) || MAC[:16]) with the MAC over everything before it, so any gateway checks it.
// issued_at is the wall clock (unix seconds): monotonic clocks of two hosts share no origin. A
// nonce "from the future" is accepted within kMaxClockSkewSeconds (the hosts run NTP). Single use
// across gateways is the redeemer's job: an insert of the nonce into a shared table (the ACME
// store's "nonces", gateway/store.h) that fails for a second redemption anywhere. The table keeps
// a redemption until `grace` seconds after the nonce's expiry (retention, gateway/retention.h):
// a wall-clock step back shorter than that grace cannot revive a pruned nonce, because such a
// nonce is then still older than its lifetime (pruned => now_then > expiry + grace, so after a
// step back d < grace, now - issued_at > lifetime). A step forward only expires nonces early
// (badNonce, retried by clients). The counter starts at a random value per process, so a
// restarted gateway does not hand out a nonce it handed out before.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/openssl.h"
#include "common/result.h"

namespace ca::gateway {

// kUnavailable: the shared redemption could not be recorded (store down): the request fails
// (serverInternal), the nonce is not burnt.
enum class NonceCheck { kOk, kMalformed, kForged, kExpired, kReplayed, kUnavailable };
std::string_view NonceCheckName(NonceCheck c);

// Records the first redemption of a shared-mode nonce (`id`: its bytes without the MAC) until
// `expires_at` (unix seconds): Ok the first time, kAlreadyExists after (on any gateway), another
// error when it could not be recorded.
using NonceRedeemer = std::function<Status(std::string_view id, int64_t expires_at)>;

struct SharedNonceOptions {
  Bytes key;               // the pair's key (LoadNonceKeyFile), 32 bytes
  std::string gateway_id;  // 1..32 of [A-Za-z0-9._-]: which gateway issued (logs, uniqueness)
  std::function<int64_t()> wall_clock;  // unix seconds
  NonceRedeemer redeem;
};

inline constexpr int64_t kMaxClockSkewSeconds = 30;
inline constexpr size_t kNonceKeyBytes = 32;

// Reads the shared nonce key: exactly 32 bytes, mode 0600/0640/0400/0440 (the gateway's group may
// read it; nobody else, and no group write).
Result<Bytes> LoadNonceKeyFile(const std::string& path);
bool ValidGatewayId(std::string_view id);

class NonceService {
 public:
  // Seconds on a clock that never goes back (tests inject their own).
  using MonotonicClock = std::function<int64_t()>;
  static int64_t SteadySeconds();

  // Single box: a random per-process key unless given, the monotonic clock, an in-memory used set.
  explicit NonceService(int64_t lifetime_seconds, Bytes key = RandomBytes(32),
                        MonotonicClock clock = SteadySeconds);
  // Shared: the options' key, wall clock and redeemer (see the header comment).
  NonceService(int64_t lifetime_seconds, SharedNonceOptions shared);

  bool shared() const { return static_cast<bool>(redeem_); }

  std::string Issue();
  // Consumes the nonce: a second call with the same nonce returns kReplayed.
  NonceCheck Consume(std::string_view nonce);

  size_t used_count() const;  // single box only

 private:
  NonceService(int64_t lifetime_seconds, Bytes key, MonotonicClock clock, std::string gateway_id,
               NonceRedeemer redeem);
  Bytes Mac(const uint8_t* data, size_t size) const;
  NonceCheck ConsumeShared(const Bytes& raw);
  void Prune(int64_t now);

  const int64_t lifetime_;
  const Bytes key_;
  const MonotonicClock clock_;    // single box: monotonic; shared: the wall clock
  const std::string gateway_id_;  // shared only
  const NonceRedeemer redeem_;    // shared only
  // HMAC-SHA256 keyed once; each MAC works on a copy (no algorithm fetch or key set-up per nonce).
  ossl::Owned<EVP_MAC_CTX, EVP_MAC_CTX_free> keyed_hmac_;
  mutable std::mutex mu_;
  uint64_t next_counter_ = 1;
  // Counters consumed and not yet expired, with their issue time (pruned by age).
  std::set<std::pair<int64_t, uint64_t>> used_by_time_;
  std::set<uint64_t> used_;
  // Every counter at or below this one was pruned (expired or used): refused whatever its time.
  uint64_t pruned_floor_ = 0;
};

}  // namespace ca::gateway
