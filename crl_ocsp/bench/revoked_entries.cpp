#include "crl_ocsp/bench/revoked_entries.h"

#include <sys/resource.h>

#include "common/encoding.h"

namespace ca::crl_ocsp {

std::vector<pki::CrlEntry> MakeRevokedEntries(size_t n, pki::Time now) {
  using pki::RevocationReason;
  std::vector<pki::CrlEntry> entries;
  entries.reserve(n);
  Bytes random = RandomBytes(n * 16);
  const RevocationReason kCycle[] = {RevocationReason::kUnspecified, RevocationReason::kSuperseded,
                                     RevocationReason::kCessationOfOperation,
                                     RevocationReason::kAffiliationChanged};
  for (size_t i = 0; i < n; ++i) {
    random[i * 16] = static_cast<uint8_t>(random[i * 16] | 0x40);  // positive, 16 octets
    pki::CrlEntry e;
    e.serial = *pki::Serial::FromBytes(std::span(random).subspan(i * 16, 16));
    e.revocation_time = now - std::chrono::seconds(i % 86400);
    if (i % 4 == 0) {
      e.reason = RevocationReason::kKeyCompromise;
      e.invalidity_date = e.revocation_time - std::chrono::hours(1);
    } else {
      e.reason = kCycle[i % 4];
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

double CpuSeconds() {
  struct rusage r {};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

}  // namespace ca::crl_ocsp
