// crl_shard_bench [ENTRIES] [SHARDS]: ENTRIES (default 1,000,000) revoked certificates assigned to
// SHARDS (default 64) CRL shards by their serial (crl_ocsp::CrlShardOf, as the engine does); each
// shard built and signed with its critical IDP (software RSA-3072 key), then checked by the
// publish guard (parse, verify, IDP of the scope), one shard at a time as the engine's CRL job
// does. Prints the total and per-shard wall time, CPU time and peak RSS (getrusage).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "crl_ocsp/bench/revoked_entries.h"
#include "crl_ocsp/crl_scope.h"
#include "crl_ocsp/publish_guard.h"
#include "crl_ocsp/testing/test_pki.h"
#include "pki/crl_builder.h"

int main(int argc, char** argv) {
  using namespace ca::crl_ocsp;
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000000;
  uint32_t shards = argc > 2 ? static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10)) : 64;
  if (shards == 0 || shards > kMaxCrlShards) {
    std::fprintf(stderr, "crl_shard_bench: SHARDS must be 1..%u\n", kMaxCrlShards);
    return 2;
  }
  auto ca_key = testing::MakeRsaKey(3072);
  auto root_key = testing::MakeEcKey();
  auto root = testing::MakeCert({"Bench Root", true, false, 1, 3650}, root_key.get(), nullptr,
                                root_key.get());
  auto ca = testing::MakeCert({"Bench CA", true, false, 2, 3650}, ca_key.get(), root.get(),
                              root_key.get());
  Time now = ca::pki::Now();
  std::vector<ca::pki::CrlEntry> all = MakeRevokedEntries(n, now);

  double cpu_start = CpuSeconds();
  auto start = Clock::now();
  std::vector<std::vector<ca::pki::CrlEntry>> parts(shards);
  for (auto& e : all) parts[*CrlShardOf(e.serial, shards)].push_back(std::move(e));
  std::vector<ca::pki::CrlEntry>().swap(all);
  double partition_s = seconds_since(start);

  std::vector<double> shard_s;
  double guard_s = 0;
  size_t der_bytes = 0, min_entries = n, max_entries = 0;
  for (uint32_t k = 0; k < shards; ++k) {
    auto shard_start = Clock::now();
    ca::pki::CrlRequest req{ca.get(), ca_key.get(), k + 1u, now, now + std::chrono::hours(24 * 7),
                            parts[k]};
    req.distribution_point = *CrlScopeUrl("http://crl.bench.test/crl/bench-ca.crl", CrlScope::Shard(k));
    auto der = ca::pki::BuildCrl(req);
    if (!der) {
      std::fprintf(stderr, "crl_shard_bench: shard %u: %s\n", k, der.error().ToString().c_str());
      return 1;
    }
    shard_s.push_back(seconds_since(shard_start));
    auto guard_start = Clock::now();
    auto info = CheckCrlPublish(*der, std::nullopt, ca.get(), {}, CrlScope::Shard(k),
                                req.distribution_point);
    guard_s += seconds_since(guard_start);
    if (!info || info->entries != parts[k].size()) {
      std::fprintf(stderr, "crl_shard_bench: shard %u does not check out\n", k);
      return 1;
    }
    der_bytes += der->size();
    min_entries = std::min(min_entries, parts[k].size());
    max_entries = std::max(max_entries, parts[k].size());
    std::vector<ca::pki::CrlEntry>().swap(parts[k]);
  }
  double total_s = seconds_since(start);
  double cpu_s = CpuSeconds() - cpu_start;
  std::vector<double> sorted = shard_s;
  std::sort(sorted.begin(), sorted.end());
  double build_s = 0;
  for (double s : shard_s) build_s += s;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  // Wall time depends on what else runs on the machine; CPU time (user+sys) is this process's.
  std::printf(
      "entries=%zu shards=%u entries_per_shard_min=%zu max=%zu der_bytes_total=%zu "
      "total_wall_s=%.3f total_cpu_s=%.3f partition_wall_s=%.3f build_and_sign_wall_s=%.3f "
      "guard_check_wall_s=%.3f per_shard_build_and_sign_ms_min=%.1f median=%.1f max=%.1f "
      "peak_rss_mib=%ld\n",
      n, shards, min_entries, max_entries, der_bytes, total_s, cpu_s, partition_s, build_s,
      guard_s, sorted.front() * 1e3, sorted[sorted.size() / 2] * 1e3, sorted.back() * 1e3,
      ru.ru_maxrss / 1024);
  return 0;
}
