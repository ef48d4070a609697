// When to re-sign: pure functions the engine runs on a timer (and after each revocation). No I/O.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <vector>

#include "crl_ocsp/revocation.h"

namespace ca::crl_ocsp {

struct FreshnessPolicy {
  std::chrono::seconds ocsp_validity{std::chrono::hours(24 * 4)};  // nextUpdate - thisUpdate
  std::chrono::seconds crl_interval{std::chrono::hours(24)};       // republish at least daily
  std::chrono::seconds crl_validity{std::chrono::hours(24 * 7)};   // CRL nextUpdate - thisUpdate
  // After a revocation the next CRL is due this much later (batches a burst of revocations);
  // at most one minute.
  std::chrono::seconds crl_revocation_delay{std::chrono::seconds(30)};
};

// What the engine knows about one certificate and its stored response.
struct ResponseState {
  pki::Serial serial;
  Time cert_not_after{};
  std::optional<Time> response_this_update;  // nullopt: no response stored yet
  std::optional<Time> response_next_update;
  bool response_says_revoked = false;
  bool cert_revoked = false;  // the CA's current record
};

enum class ResignReason { kMissing, kHalfLife, kRevoked };

struct ResignItem {
  size_t index;  // into the input span
  ResignReason reason;
};

struct OcspSchedule {
  std::vector<ResignItem> now;       // re-sign these now
  std::optional<Time> next_wake_up;  // earliest time another response reaches half-life
};

// Every unexpired certificate whose response is missing or has passed half of its validity
// interval (the shorter of the response's own interval and policy.ocsp_validity), and every
// certificate revoked since its response was signed (even if expired).
OcspSchedule ScheduleOcsp(std::span<const ResponseState> states, Time now,
                          const FreshnessPolicy& policy);

struct CrlState {
  std::optional<Time> last_this_update;  // nullopt: no CRL published yet
  // Earliest revocation recorded after last_this_update (nullopt: none).
  std::optional<Time> first_unpublished_revocation;
};

// When the next CRL is due: at once when none exists; crl_interval after the last one; and
// crl_revocation_delay after the first revocation it does not list, whichever is earlier.
Time NextCrlDue(const CrlState& state, const FreshnessPolicy& policy);
inline bool CrlDue(const CrlState& state, Time now, const FreshnessPolicy& policy) {
  return NextCrlDue(state, policy) <= now;
}

}  // namespace ca::crl_ocsp
