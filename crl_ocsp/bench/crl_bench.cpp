// crl_bench [ENTRIES]: builds and signs a full CRL of ENTRIES (default 1,000,000) revoked
// certificates with a software RSA-3072 key, and prints wall time and peak RSS (getrusage).
// Entries: revoked_entries.h. See crl_shard_bench for the same over CRL shards.
#include <openssl/evp.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "crl_ocsp/bench/revoked_entries.h"
#include "crl_ocsp/publish_guard.h"
#include "crl_ocsp/testing/test_pki.h"
#include "pki/crl_builder.h"

int main(int argc, char** argv) {
  using namespace ca::crl_ocsp;
  using ca::pki::BuildCrl;
  using ca::pki::CrlEntry;
  using Clock = std::chrono::steady_clock;
  size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000000;
  auto ca_key = testing::MakeRsaKey(3072);
  auto root_key = testing::MakeEcKey();
  auto root = testing::MakeCert({"Bench Root", true, false, 1, 3650}, root_key.get(), nullptr,
                                root_key.get());
  auto ca = testing::MakeCert({"Bench CA", true, false, 2, 3650}, ca_key.get(), root.get(),
                              root_key.get());

  Time now = ca::pki::Now();
  std::vector<CrlEntry> entries = MakeRevokedEntries(n, now);

  double cpu_start = CpuSeconds();
  auto start = Clock::now();
  auto der = BuildCrl({ca.get(), ca_key.get(), 1, now, now + std::chrono::hours(24 * 7), entries});
  double build_s = std::chrono::duration<double>(Clock::now() - start).count();
  double build_cpu_s = CpuSeconds() - cpu_start;
  if (!der) {
    std::fprintf(stderr, "crl_bench: %s\n", der.error().ToString().c_str());
    return 1;
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  long build_rss_mib = ru.ru_maxrss / 1024;

  start = Clock::now();
  auto info = InspectCrl(*der, ca.get());
  double verify_s = std::chrono::duration<double>(Clock::now() - start).count();
  if (!info || info->entries != n) {
    std::fprintf(stderr, "crl_bench: built CRL does not check out\n");
    return 1;
  }
  getrusage(RUSAGE_SELF, &ru);
  // Wall time depends on what else runs on the machine; CPU time (user+sys) is this process's.
  std::printf(
      "entries=%zu der_bytes=%zu build_and_sign_wall_s=%.3f build_and_sign_cpu_s=%.3f "
      "peak_rss_mib_after_build=%ld parse_and_verify_wall_s=%.3f peak_rss_mib_total=%ld\n",
      n, der->size(), build_s, build_cpu_s, build_rss_mib, verify_s, ru.ru_maxrss / 1024);
  return 0;
}
