// The renewalInfo (RFC 9773) suggested window of a certificate, proportional to its lifetime so
// that a 6-day certificate (SSL_SHORT) and a 90-day one are both renewed well inside their lives.
#pragma once

#include <cstdint>

namespace ca::gateway {

struct RenewalWindow {
  int64_t start = 0;        // unix seconds
  int64_t end = 0;          // unix seconds, > start
  int64_t retry_after = 0;  // seconds until the client should ask again (Retry-After)
};

// A certificate valid [not_before, not_after] (inclusive, unix seconds):
// - not revoked: the window opens at 2/3 of its lifetime and closes at 5/6 of it (at least an
//   hour, never after notAfter), so the last sixth stays for retries: a 90-day certificate gets
//   days 60..75, a 6-day one days 4..5. Retry-After is a quarter of the window (between 1 minute
//   and 6 hours), so a client polling at that pace sees the window open several times before it
//   closes, whatever the lifetime.
// - revoked: the window is the last hour up to `now` (renew now).
RenewalWindow SuggestRenewalWindow(int64_t not_before, int64_t not_after, bool revoked,
                                   int64_t now);

}  // namespace ca::gateway
