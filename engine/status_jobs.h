// The state of a CaInstance's two background status jobs (status_jobs.cpp): CRL publication and
// OCSP re-signing. They run independently: a failure of one never skips the other, and each
// backs off on its own after a failure.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "pki/time.h"

namespace ca::engine {

using MonoTime = std::chrono::steady_clock::time_point;

// The clocks the status jobs read, replaceable in tests. The wall clock dates what is signed
// (thisUpdate) and drives the freshness schedule; the monotonic clock times retries and the next
// OCSP scan, so a step of the wall clock neither stalls nor hurries them.
struct JobClock {
  std::function<pki::Time()> wall = [] { return pki::Now(); };
  std::function<MonoTime()> monotonic = [] { return std::chrono::steady_clock::now(); };
};

// Bounded exponential backoff of one job: after n consecutive failures the job waits
// min(first * 2^(n-1), max) before its next attempt; a success resets it.
class JobBackoff {
 public:
  JobBackoff(std::chrono::seconds first, std::chrono::seconds max) : first_(first), max_(max) {}
  bool Ready(MonoTime now) const { return !retry_at_ || now >= *retry_at_; }
  // Records a failure at `now`; returns the wait before the next attempt.
  std::chrono::seconds Failed(MonoTime now) {
    ++failures_;
    std::chrono::seconds delay =
        std::min<std::chrono::seconds>(first_ * (int64_t{1} << std::min(failures_ - 1, 20)), max_);
    retry_at_ = now + delay;
    return delay;
  }
  void Succeeded() {
    failures_ = 0;
    retry_at_.reset();
  }
  int failures() const { return failures_; }

 private:
  std::chrono::seconds first_, max_;
  int failures_ = 0;
  std::optional<MonoTime> retry_at_;
};

struct StatusJobState {
  static constexpr std::chrono::seconds kFirstRetry{1};
  static constexpr std::chrono::seconds kMaxRetry{300};
  JobClock clock;
  JobBackoff crl{kFirstRetry, kMaxRetry};
  JobBackoff ocsp{kFirstRetry, kMaxRetry};
  std::optional<MonoTime> next_ocsp_scan;  // engine thread only
  uint64_t crl_refused_clock_behind = 0;   // CRL attempts refused before spending a number
  // CRL shards (engine thread only): when the next shard pass is due even without a revocation
  // (nullopt: at the next run), and how many shard CRLs were signed.
  std::optional<pki::Time> next_shard_check;
  uint64_t crl_shards_signed = 0;
};

}  // namespace ca::engine
