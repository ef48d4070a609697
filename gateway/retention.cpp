#include "gateway/retention.h"

#include <algorithm>

#include "common/log.h"

namespace ca::gateway {

StorePruner::StorePruner(const AcmeStore& store, RetentionOptions options,
                         std::function<int64_t()> now)
    : store_(store), options_(options), now_(std::move(now)) {}

StorePruner::~StorePruner() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StorePruner::Start() {
  thread_ = std::thread([this] { Loop(); });
}

Result<PruneCounts> StorePruner::RunOnce() {
  PruneCounts total;
  int64_t now = now_();
  size_t batch_size = options_.batch;
  for (;;) {
    PruneCounts batch;
    Status written = store_.WriteReserved([&](StoreTxn& txn) -> Status {
      batch = CA_TRY(txn.PruneExpired(now - options_.order_retention_seconds,
                                      now - options_.failed_validation_seconds, batch_size));
      PruneCounts nonces =
          CA_TRY(txn.PruneRedeemedNonces(now - options_.redeemed_nonce_grace_seconds, batch_size));
      batch.nonces = nonces.nonces;
      batch.more = batch.more || nonces.more;
      return Ok();
    });
    if (!written && written.error().code == ErrorCode::kResourceExhausted && batch_size > 1) {
      batch_size = std::max<size_t>(1, batch_size / 4);  // a full map: smaller deletions fit
      continue;
    }
    CA_TRY_STATUS(written);
    total.orders += batch.orders;
    total.authorizations += batch.authorizations;
    total.challenges += batch.challenges;
    total.failed_validations += batch.failed_validations;
    total.nonces += batch.nonces;
    if (!batch.more) break;
    std::lock_guard lock(mu_);
    if (stopping_) break;
  }
  store_.RefreshUsage();  // writes refused for a full map resume now, not a second later
  return total;
}

void StorePruner::Loop() {
  for (;;) {
    auto pruned = RunOnce();
    if (!pruned) {
      // A full map is exactly when pruning matters: say so and try again at the next pass.
      log::Error("store_prune_failed", {{"error", pruned.error().ToString()}});
    } else if (pruned->orders + pruned->failed_validations + pruned->nonces > 0) {
      log::Info("store_pruned", {{"orders", pruned->orders},
                                 {"authorizations", pruned->authorizations},
                                 {"challenges", pruned->challenges},
                                 {"failed_validations", pruned->failed_validations},
                                 {"redeemed_nonces", pruned->nonces}});
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, std::chrono::seconds(options_.interval_seconds),
                     [this] { return stopping_; })) {
      return;
    }
  }
}

}  // namespace ca::gateway
