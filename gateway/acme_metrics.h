// The gateway's /metrics page: requests by endpoint and status, validations by type and outcome,
// store commits, and the certificate lifecycle counters (gateway/lifecycle_metrics.h).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "gateway/lifecycle_metrics.h"
#include "gateway/store.h"

namespace ca::gateway {

class AcmeMetrics {
 public:
  void CountRequest(const std::string& endpoint, int status);
  void CountValidation(const std::string& type,
                       const std::string& outcome);  // valid/invalid/unavailable
  void CountIssued(const std::string& profile) { lifecycle_.CountIssued(profile); }
  void CountRevoked(int reason) { lifecycle_.CountRevoked(reason); }

  // Prometheus text exposition.
  std::string Text(const AcmeStore& store) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> request_counts_;
  std::map<std::pair<std::string, std::string>, uint64_t> validation_counts_;
  LifecycleMetrics lifecycle_;  // certificates issued and revoked
};

}  // namespace ca::gateway
