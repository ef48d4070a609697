#include "gateway/record_cache.h"

namespace ca::gateway {

std::string RecordCache::Slot(MDB_dbi dbi, std::string_view key) {
  std::string slot = std::to_string(dbi);
  slot += '/';
  slot += key;
  return slot;
}

std::optional<CachedRecord> RecordCache::Find(MDB_dbi dbi, std::string_view key,
                                              std::string_view raw) const {
  const std::string slot = Slot(dbi, key);
  std::lock_guard lock(mu_);
  auto it = entries_.find(slot);
  if (it == entries_.end() || it->second.raw != raw) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->second.record;
}

void RecordCache::Put(MDB_dbi dbi, std::string_view key, std::string_view raw,
                      CachedRecord record) {
  std::string slot = Slot(dbi, key);
  std::lock_guard lock(mu_);
  if (entries_.size() >= capacity_ && !entries_.contains(slot)) entries_.clear();
  entries_.insert_or_assign(std::move(slot), Entry{std::string(raw), std::move(record)});
}

}  // namespace ca::gateway
