#include "crl_ocsp/freshness.h"

#include <algorithm>

namespace ca::crl_ocsp {

OcspSchedule ScheduleOcsp(std::span<const ResponseState> states, Time now,
                          const FreshnessPolicy& policy) {
  OcspSchedule out;
  for (size_t i = 0; i < states.size(); ++i) {
    const ResponseState& s = states[i];
    if (s.cert_revoked && !s.response_says_revoked) {
      out.now.push_back({i, ResignReason::kRevoked});
      continue;
    }
    if (s.cert_not_after < now) continue;  // expired: its status no longer needs to be fresh
    if (!s.response_this_update || !s.response_next_update) {
      out.now.push_back({i, ResignReason::kMissing});
      continue;
    }
    auto interval = std::min<std::chrono::seconds>(
        *s.response_next_update - *s.response_this_update, policy.ocsp_validity);
    Time half = *s.response_this_update + interval / 2;
    if (half <= now) {
      out.now.push_back({i, ResignReason::kHalfLife});
    } else if (half <= s.cert_not_after) {
      out.next_wake_up = out.next_wake_up ? std::min(*out.next_wake_up, half) : half;
    }
  }
  return out;
}

Time NextCrlDue(const CrlState& state, const FreshnessPolicy& policy) {
  if (!state.last_this_update) return Time::min();
  Time due = *state.last_this_update + policy.crl_interval;
  if (state.first_unpublished_revocation) {
    auto delay = std::min(policy.crl_revocation_delay, std::chrono::seconds(60));
    due = std::min(due, *state.first_unpublished_revocation + delay);
  }
  return due;
}

}  // namespace ca::crl_ocsp
