// Replay nonces (RFC 8555 §6.5): unforgeable, single-use, with a bounded lifetime.
// A nonce is base64url(counter(8) || issued_at(8) || HMAC-SHA256(process key,
// counter||issued_at)[:16]). The key is random per process, so nonces from before a restart fail
// the MAC and the client gets badNonce with a fresh Replay-Nonce, which every ACME client retries
// on. issued_at is read from a monotonic clock (seconds since an arbitrary per-process origin),
// never the wall clock: with the wall clock, a step forward pruned the used set and a step back
// made the pruned nonces young again, so they were accepted a second time. Independently of the
// clock, a counter pruned from the used set is below a floor that is refused for good.
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

enum class NonceCheck { kOk, kMalformed, kForged, kExpired, kReplayed };
std::string_view NonceCheckName(NonceCheck c);

class NonceService {
 public:
  // Seconds on a clock that never goes back (tests inject their own).
  using MonotonicClock = std::function<int64_t()>;
  static int64_t SteadySeconds();

  explicit NonceService(int64_t lifetime_seconds, Bytes key = RandomBytes(32),
                        MonotonicClock clock = SteadySeconds);

  std::string Issue();
  // Consumes the nonce: a second call with the same nonce returns kReplayed.
  NonceCheck Consume(std::string_view nonce);

  size_t used_count() const;

 private:
  Bytes Mac(uint64_t counter, int64_t issued_at) const;
  void Prune(int64_t now);

  const int64_t lifetime_;
  const Bytes key_;
  const MonotonicClock clock_;
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
