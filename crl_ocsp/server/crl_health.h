// The CRL part of /health and /metrics: each issuer's full CRL and its shards. Shards are
// reported by number in /health (missing or stale) and aggregated per issuer in /metrics, so the
// series count does not grow with the shard count (up to 1024 per issuer).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "crl_ocsp/server/config.h"
#include "crl_ocsp/server/freshness_monitor.h"

namespace ca::crl_ocsp::server {

// One gauge per issuer: "# TYPE name gauge" and a line per issuer with value(i).
template <typename F>
void Gauge(std::string& out, const char* name, const char* help,
           const std::vector<std::string>& issuers, F value) {
  if (help != nullptr) out += std::string("# HELP ") + name + " " + help + "\n";
  out += std::string("# TYPE ") + name + " gauge\n";
  for (size_t i = 0; i < issuers.size(); ++i) {
    out += std::string(name) + "{issuer=\"" + issuers[i] + "\"} " + std::to_string(value(i)) + "\n";
  }
}

// Appends an issuer's CRL problems: the full CRL missing, a shard below `expected_shards`
// missing ({"issuer", "what": "crl shard", "shard"}), the full CRL or any published shard past
// its nextUpdate (stale_crls entries carry "shard" for a shard).
void AddCrlHealth(const std::string& issuer, const IssuerCrl& crls, uint32_t expected_shards,
                  Time now, nlohmann::json& stale_crls, nlohmann::json& missing);

// ca_crl_age_seconds / ca_crl_number (the full CRL), and per issuer ca_crl_shards_published,
// ca_crl_shards_missing, ca_crl_shards_stale, ca_crl_shard_oldest_age_seconds,
// ca_crl_shard_lowest_number.
void AppendCrlMetrics(std::string& out, const ServerConfig& config,
                      const std::vector<IssuerCrl>& crls, Time now);

}  // namespace ca::crl_ocsp::server
