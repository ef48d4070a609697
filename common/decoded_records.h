// Decoded records by slot (a store's database and key), each kept with the exact bytes it was
// decoded from. A lookup passes the bytes the current transaction reads and hits only when they are
// identical, so an entry can never be stale: decoding is a function of the bytes, and the cache
// only saves decoding the same bytes again. Used for the gateway's store records
// (gateway/record_cache.h) and the policy records the gateway and engine read on every request
// (profiles/policy/store.cpp). Bounded: emptied when full (a full cache of live records refills in
// one pass).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace ca {

template <class Record>
class DecodedRecords {
 public:
  explicit DecodedRecords(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // The record decoded from exactly `raw` at `slot`; nullopt if not cached.
  std::optional<Record> Find(const std::string& slot, std::string_view raw) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(slot);
    if (it == entries_.end() || it->second.raw != raw) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    hits_.fetch_add(1, std::memory_order_relaxed);
    return it->second.record;
  }
  void Put(std::string slot, std::string_view raw, Record record) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= capacity_ && !entries_.contains(slot)) entries_.clear();
    entries_.insert_or_assign(std::move(slot), Entry{std::string(raw), std::move(record)});
  }

  uint64_t hits() const { return hits_.load(); }
  uint64_t misses() const { return misses_.load(); }

 private:
  struct Entry {
    std::string raw;
    Record record;
  };
  const size_t capacity_;
  mutable std::mutex mu_;
  mutable std::atomic<uint64_t> hits_{0}, misses_{0};
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace ca
