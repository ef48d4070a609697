// Retention of the gateway store: a background thread that deletes orders (with their
// authorizations and challenges) some days after they expired, failed-validation records once
// no rate limit reads them, and shared-nonce redemptions a grace period after the nonce expired, in
// small write transactions so that requests are never held up. Certificates are kept. Without it
// the store only grows (issue 15: 1,000,000 orders).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "common/result.h"
#include "gateway/store.h"

namespace ca::gateway {

struct RetentionOptions {
  int64_t order_retention_seconds = 30 * 86400;  // after the order's `expires`
  int64_t failed_validation_seconds = 86400;     // the rate limit reads the last hour only
  // Redeemed shared nonces (gateway/nonce.h) stay this long after their expiry: a wall-clock step
  // back shorter than this cannot revive a pruned one.
  int64_t redeemed_nonce_grace_seconds = 86400;
  int interval_seconds = 300;  // between passes
  size_t batch = 1000;         // orders per write transaction
};

class StorePruner {
 public:
  StorePruner(const AcmeStore& store, RetentionOptions options, std::function<int64_t()> now);
  ~StorePruner();  // stops the thread
  StorePruner(const StorePruner&) = delete;
  StorePruner& operator=(const StorePruner&) = delete;

  void Start();
  // One whole pass (batch after batch until nothing is left): what it deleted.
  Result<PruneCounts> RunOnce();

 private:
  void Loop();
  const AcmeStore& store_;
  RetentionOptions options_;
  std::function<int64_t()> now_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ca::gateway
