#include "gateway/order_claims.h"

namespace ca::gateway {

bool OrderClaims::Insert(const std::string& order_id, Claim claim) {
  std::lock_guard lock(mu_);
  return claims_.try_emplace(order_id, std::move(claim)).second;
}

void OrderClaims::Erase(const std::string& order_id) {
  std::lock_guard lock(mu_);
  claims_.erase(order_id);
}

void OrderClaims::Apply(OrderRecord& order) const {
  if (order.status != OrderStatus::kReady) return;
  std::lock_guard lock(mu_);
  if (claims_.empty()) return;
  auto it = claims_.find(order.id);
  if (it == claims_.end()) return;
  order.status = OrderStatus::kProcessing;
  order.finalize_csr = it->second.finalize_csr;
  order.policy_version = it->second.policy_version;
}

size_t OrderClaims::size() const {
  std::lock_guard lock(mu_);
  return claims_.size();
}

}  // namespace ca::gateway
