// Finalize's claim on a ready order, held in memory while the engine signs (gateway/finalize.cpp).
// It replaces a durable ready → processing write: taken inside a store write operation (so it is
// serialised with every other state change; it writes nothing) and only while the stored order is
// ready. While an order is claimed, every read of it in this process (StoreTxn::GetOrder) sees it
// `processing`, with the claim's CSR and policy version, so every transition that leaves a
// processing order alone (deactivation, expiry, another finalize) leaves it alone, and a client
// polling it sees `processing`. The store still holds `ready`: after a crash the order is ready
// again, nothing acknowledged was lost (finalize answers only after the outcome is stored), and
// the client's next finalize gets the certificate the engine may already have signed for the order
// (the engine answers per order, whatever the CSR). A claim whose outcome could not be stored after
// the engine signed is kept and resumed (ResumeFinalize) until the outcome is recorded.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "gateway/store.h"

namespace ca::gateway {

class OrderClaims {
 public:
  struct Claim {
    std::string finalize_csr;  // base64url DER, what a resumed finalize sends again
    uint64_t policy_version = 0;
  };

  // False when the order is already claimed.
  bool Insert(const std::string& order_id, Claim claim);
  void Erase(const std::string& order_id);
  // A stored `ready` order that is claimed reads as `processing` with the claim's CSR and policy
  // version; any other order is left as stored.
  void Apply(OrderRecord& order) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, Claim> claims_;
};

}  // namespace ca::gateway
