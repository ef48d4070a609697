// The freshness of the stored OCSP responses for /health and /metrics, computed by one background
// thread so that neither endpoint walks the store per request (their cost does not grow with the
// number of responses). Each pass walks every response once; the next pass starts after
// max(1 s, 10 x the last pass's duration), at most 60 s later, so the walk takes at most ~10% of
// one core on a large store and a response that goes stale is reported within that interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "crl_ocsp/status_store.h"

namespace ca::crl_ocsp::server {

// The responses of one issuer's unexpired certificates, as of a pass.
struct IssuerResponses {
  std::string name;
  size_t responses = 0;
  size_t stale = 0;                        // past nextUpdate
  std::vector<std::string> stale_serials;  // hex, first 100
  std::optional<Time> oldest_this_update;
};

struct FreshnessSnapshot {
  Time at{};                   // the time the pass judged staleness against
  std::optional<Error> error;  // the pass failed (store unreadable); `issuers` is empty
  std::vector<IssuerResponses> issuers;
};

// An issuer's registration, current CRL and shards: O(issuers + shards), headers only, read per
// request.
struct IssuerCrl {
  bool registered = false;
  std::optional<CrlInfo> crl;                          // the full CRL
  std::vector<std::pair<uint32_t, CrlInfo>> shards;    // published shards, ascending
};
Result<std::vector<IssuerCrl>> ReadCrls(const kv::Txn& txn, const StoreDbs& dbs,
                                        const std::vector<std::string>& issuers);

struct MonitorStats {
  uint64_t passes = 0;
  uint64_t responses_walked = 0;  // over all passes: grows with passes, not with requests
};

class FreshnessMonitor {
 public:
  // Runs the first pass before returning, then starts the thread.
  FreshnessMonitor(const StatusReader& reader, std::vector<std::string> issuers);
  ~FreshnessMonitor();
  FreshnessMonitor(const FreshnessMonitor&) = delete;
  FreshnessMonitor& operator=(const FreshnessMonitor&) = delete;

  std::shared_ptr<const FreshnessSnapshot> Latest() const;
  MonitorStats Stats() const;

 private:
  void Pass();
  void Run();

  const StatusReader& reader_;
  const std::vector<std::string> issuers_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::shared_ptr<const FreshnessSnapshot> latest_;
  MonitorStats stats_;
  std::chrono::steady_clock::duration last_pass_{};
  std::thread thread_;
};

}  // namespace ca::crl_ocsp::server
