#include "gateway/acme_metrics.h"

namespace ca::gateway {

void AcmeMetrics::CountRequest(const std::string& endpoint, int status) {
  std::lock_guard lock(mu_);
  ++request_counts_[{endpoint, status}];
}

void AcmeMetrics::CountValidation(const std::string& type, const std::string& outcome) {
  std::lock_guard lock(mu_);
  ++validation_counts_[{type, outcome}];
}

std::string AcmeMetrics::Text(const AcmeStore& store) const {
  std::lock_guard lock(mu_);
  std::string out =
      "# HELP acme_requests_total ACME requests by endpoint and HTTP status.\n"
      "# TYPE acme_requests_total counter\n";
  for (const auto& [key, n] : request_counts_)
    out += "acme_requests_total{endpoint=\"" + key.first + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  out +=
      "# HELP acme_validations_total Challenge validation attempts by type and outcome.\n"
      "# TYPE acme_validations_total counter\n";
  for (const auto& [key, n] : validation_counts_)
    out += "acme_validations_total{type=\"" + key.first + "\",outcome=\"" + key.second + "\"} " +
           std::to_string(n) + "\n";
  const auto commits = store.commit_stats();
  out +=
      "# HELP acme_store_write_ops_total State changes written to the gateway store.\n"
      "# TYPE acme_store_write_ops_total counter\n"
      "acme_store_write_ops_total " +
      std::to_string(commits.ops) +
      "\n"
      "# HELP acme_store_commits_total Durable write transactions (group commits) of the gateway "
      "store.\n"
      "# TYPE acme_store_commits_total counter\n"
      "acme_store_commits_total " +
      std::to_string(commits.batches) + "\n";
  // Fill level of the LMDB map: a full map refuses writes (503 + Retry-After) until retention frees
  // pages (gateway/retention.h) or the operator raises store_map_size_mb.
  if (auto usage = store.env().GetUsage()) {
    out +=
        "# HELP acme_store_map_bytes Size of the gateway store's LMDB map (store_map_size_mb).\n"
        "# TYPE acme_store_map_bytes gauge\n"
        "acme_store_map_bytes " + std::to_string(usage->map_bytes) + "\n" +
        "# HELP acme_store_used_bytes Bytes of the map in use (freed pages excluded).\n"
        "# TYPE acme_store_used_bytes gauge\n"
        "acme_store_used_bytes " + std::to_string(usage->used_bytes) + "\n";
  }
  out += lifecycle_.Text();
  return out;
}

}  // namespace ca::gateway
