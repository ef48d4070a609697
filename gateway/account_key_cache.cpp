#include "gateway/account_key_cache.h"

namespace ca::gateway {

AccountKeyCache::Key AccountKeyCache::Find(const std::string& thumbprint) {
  std::lock_guard lock(mu_);
  auto it = index_.find(thumbprint);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

AccountKeyCache::Key AccountKeyCache::Insert(const std::string& thumbprint, EVP_PKEY* key) {
  Key shared(key, EVP_PKEY_free);
  std::lock_guard lock(mu_);
  if (auto it = index_.find(thumbprint); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;  // another request imported the same key first
  }
  lru_.emplace_front(thumbprint, shared);
  index_[thumbprint] = lru_.begin();
  if (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return shared;
}

void AccountKeyCache::Erase(const std::string& thumbprint) {
  std::lock_guard lock(mu_);
  auto it = index_.find(thumbprint);
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

size_t AccountKeyCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace ca::gateway
