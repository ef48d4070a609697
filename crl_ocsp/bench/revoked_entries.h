// The benchmarks' revoked certificates: `n` entries with 16-octet random serials; every 4th has
// reason keyCompromise with an invalidity date, the rest cycle through the other reasons
// including unspecified; revocation times spread over the last day.
#pragma once

#include <vector>

#include "pki/crl_builder.h"

namespace ca::crl_ocsp {

std::vector<pki::CrlEntry> MakeRevokedEntries(size_t n, pki::Time now);

// This process's CPU time (user + system), seconds.
double CpuSeconds();

}  // namespace ca::crl_ocsp
