#include "gateway/record_cache.h"

namespace ca::gateway {

std::string RecordCache::Slot(kv::Table dbi, std::string_view key) {
  std::string slot = std::to_string(dbi);
  slot += '/';
  slot += key;
  return slot;
}

std::optional<CachedRecord> RecordCache::Find(kv::Table dbi, std::string_view key,
                                              std::string_view raw) const {
  return records_.Find(Slot(dbi, key), raw);
}

void RecordCache::Put(kv::Table dbi, std::string_view key, std::string_view raw,
                      CachedRecord record) {
  records_.Put(Slot(dbi, key), raw, std::move(record));
}

}  // namespace ca::gateway
