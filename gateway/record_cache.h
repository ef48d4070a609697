// Decoded store records by (database, key), each kept with the exact bytes it was decoded from. A
// lookup passes the bytes the current transaction reads, and hits only when they are identical, so
// an entry can never be stale: it only saves decoding the same JSON again (accounts on every
// request, orders, authorizations and challenges on every poll). The store writes through it (the
// bytes it has just encoded, with the record), so a read after a write needs no decoding either.
// Bounded: emptied when full (common/decoded_records.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/decoded_records.h"
#include "gateway/store.h"

namespace ca::gateway {

using CachedRecord =
    std::variant<AccountRecord, OrderRecord, AuthzRecord, ChallengeRecord, CertRecord>;

class RecordCache {
 public:
  explicit RecordCache(size_t capacity = 8192) : records_(capacity) {}

  // The record decoded from exactly `raw`, stored at `key` in `dbi`; nullopt if not cached.
  std::optional<CachedRecord> Find(kv::Table dbi, std::string_view key, std::string_view raw) const;
  void Put(kv::Table dbi, std::string_view key, std::string_view raw, CachedRecord record);

  struct Stats {
    uint64_t hits = 0, misses = 0;
  };
  Stats stats() const { return {records_.hits(), records_.misses()}; }

 private:
  static std::string Slot(kv::Table dbi, std::string_view key);
  DecodedRecords<CachedRecord> records_;
};

}  // namespace ca::gateway
