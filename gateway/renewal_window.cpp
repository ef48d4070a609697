#include "gateway/renewal_window.h"

#include <algorithm>

namespace ca::gateway {

namespace {

constexpr int64_t kMinWindowSeconds = 3600;
constexpr int64_t kMinRetryAfterSeconds = 60;
constexpr int64_t kMaxRetryAfterSeconds = 6 * 3600;

}  // namespace

RenewalWindow SuggestRenewalWindow(int64_t not_before, int64_t not_after, bool revoked,
                                   int64_t now) {
  RenewalWindow w;
  if (revoked) {
    w.start = now - 3600;
    w.end = now;
    w.retry_after = kMaxRetryAfterSeconds;
    return w;
  }
  int64_t life = std::max<int64_t>(not_after - not_before, 0);
  w.start = not_before + life * 2 / 3;
  w.end = std::min(not_after, w.start + std::max(life / 6, kMinWindowSeconds));
  if (w.end <= w.start) w.end = w.start + 1;  // a certificate with no lifetime left to share
  w.retry_after = std::clamp((w.end - w.start) / 4, kMinRetryAfterSeconds, kMaxRetryAfterSeconds);
  return w;
}

}  // namespace ca::gateway
