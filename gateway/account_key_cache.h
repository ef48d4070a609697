// Parsed account public keys, by RFC 7638 thumbprint. Importing a JWK (EVP_PKEY_fromdata and a full
// public-key check) on every request cost ~10 % of the gateway's CPU; a thumbprint is the SHA-256
// of the key's required members, so one thumbprint always names the same key and an entry never
// goes stale. The account record (read on every request) says which thumbprint is current, so a key
// change switches to the new entry at once; its status is still checked on every request. Entries
// of replaced or deactivated keys are dropped (hygiene), and the least recently used entry goes
// when the cache is full.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace ca::gateway {

class AccountKeyCache {
 public:
  using Key = std::shared_ptr<EVP_PKEY>;  // shared: a request may hold it while it is evicted

  explicit AccountKeyCache(size_t capacity = 4096) : capacity_(capacity == 0 ? 1 : capacity) {}

  Key Find(const std::string& thumbprint);
  // Takes ownership of `key` (EVP_PKEY_free'd when the last holder lets go).
  Key Insert(const std::string& thumbprint, EVP_PKEY* key);
  void Erase(const std::string& thumbprint);
  size_t size() const;

 private:
  using Lru = std::list<std::pair<std::string, Key>>;  // most recently used first
  const size_t capacity_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<std::string, Lru::iterator> index_;
};

}  // namespace ca::gateway
