#include "crl_ocsp/server/crl_health.h"

#include <algorithm>

namespace ca::crl_ocsp::server {

namespace {

struct ShardSummary {
  size_t published = 0, missing = 0, stale = 0;
  long long oldest_age = -1;  // seconds; -1: no shard
  uint64_t lowest_number = 0;  // 0: no shard
};

ShardSummary Summarize(const IssuerCrl& crls, uint32_t expected_shards, Time now) {
  ShardSummary s;
  s.published = crls.shards.size();
  size_t below = 0;
  for (const auto& [k, info] : crls.shards) {
    if (k < expected_shards) ++below;
    if (info.next_update <= now) ++s.stale;
    s.oldest_age = std::max<long long>(s.oldest_age, (now - info.this_update).count());
    if (s.lowest_number == 0 || info.number < s.lowest_number) s.lowest_number = info.number;
  }
  s.missing = expected_shards - below;
  return s;
}

}  // namespace

void AddCrlHealth(const std::string& issuer, const IssuerCrl& crls, uint32_t expected_shards,
                  Time now, nlohmann::json& stale_crls, nlohmann::json& missing) {
  if (!crls.crl) {
    missing.push_back({{"issuer", issuer}, {"what", "crl"}});
  } else if (crls.crl->next_update <= now) {
    stale_crls.push_back({{"issuer", issuer},
                          {"number", crls.crl->number},
                          {"next_update", crls.crl->next_update.time_since_epoch().count()}});
  }
  auto published = crls.shards.begin();
  for (uint32_t k = 0; k < expected_shards; ++k) {
    while (published != crls.shards.end() && published->first < k) ++published;
    if (published == crls.shards.end() || published->first != k)
      missing.push_back({{"issuer", issuer}, {"what", "crl shard"}, {"shard", k}});
  }
  for (const auto& [k, info] : crls.shards) {
    if (info.next_update > now) continue;
    stale_crls.push_back({{"issuer", issuer},
                          {"shard", k},
                          {"number", info.number},
                          {"next_update", info.next_update.time_since_epoch().count()}});
  }
}

void AppendCrlMetrics(std::string& out, const ServerConfig& config,
                      const std::vector<IssuerCrl>& crls, Time now) {
  const std::vector<std::string>& issuers = config.issuers;
  Gauge(out, "ca_crl_age_seconds", "Seconds since the published CRL's thisUpdate (-1: none).",
        issuers, [&](size_t i) -> long long {
          return crls[i].crl ? (now - crls[i].crl->this_update).count() : -1;
        });
  Gauge(out, "ca_crl_number", nullptr, issuers,
        [&](size_t i) -> uint64_t { return crls[i].crl ? crls[i].crl->number : 0; });
  std::vector<ShardSummary> shards;
  for (size_t i = 0; i < crls.size(); ++i)
    shards.push_back(Summarize(crls[i], config.CrlShardsOf(issuers[i]), now));
  Gauge(out, "ca_crl_shards_published", "CRL shards published per issuer.", issuers,
        [&](size_t i) { return shards[i].published; });
  Gauge(out, "ca_crl_shards_missing", "Expected CRL shards (crl_shards) not published.", issuers,
        [&](size_t i) { return shards[i].missing; });
  Gauge(out, "ca_crl_shards_stale", "CRL shards past their nextUpdate.", issuers,
        [&](size_t i) { return shards[i].stale; });
  Gauge(out, "ca_crl_shard_oldest_age_seconds",
        "Seconds since the oldest shard's thisUpdate (-1: no shard).", issuers,
        [&](size_t i) { return shards[i].oldest_age; });
  Gauge(out, "ca_crl_shard_lowest_number", "Lowest CRL number among the shards (0: no shard).",
        issuers, [&](size_t i) { return shards[i].lowest_number; });
}

}  // namespace ca::crl_ocsp::server
