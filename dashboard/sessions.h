// Who is logged in: the principals (an external account's holder or an operator), the
// server-side session table behind the cookie, the per-address throttle on failed logins, and the
// one authorization rule (an account reads only its own kid; an operator reads every account).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "profiles/policy/store.h"

namespace ca::dashboard {

struct Principal {
  bool is_operator = false;
  std::string id;               // kid, or operator name
  std::string credential_hash;  // the stored hash the login matched (a re-issue ends the session)
};

// Checks a typed credential against the policy store. Always hashes and compares (also for an
// unknown id or a malformed credential), so the answer takes the same time either way.
std::optional<Principal> Authenticate(const profiles::policy::PolicyReader& policy,
                                      std::string_view credential);
// The principal's credential is still the one in the store (not re-issued since the login).
bool StillCurrent(const profiles::policy::PolicyReader& policy, const Principal& p);
// The authorization rule, in one place.
bool MayRead(const Principal& p, std::string_view kid);

class SessionTable {
 public:
  explicit SessionTable(int64_t ttl_seconds, size_t max_sessions = 10000)
      : ttl_(ttl_seconds), max_(max_sessions) {}
  // A fresh random session id (256 bits, base64url) for `p`, valid ttl seconds from `now`.
  std::string Create(Principal p, int64_t now);
  std::optional<Principal> Find(std::string_view id, int64_t now);
  void Remove(std::string_view id);
  size_t size();
  int64_t ttl() const { return ttl_; }

 private:
  struct Entry {
    Principal principal;
    int64_t expires = 0;
  };
  void PurgeExpired(int64_t now);
  std::mutex mu_;
  std::map<std::string, Entry, std::less<>> sessions_;
  int64_t ttl_;
  size_t max_;
};

// Failed logins per client address: after `max_failures` within `window` seconds the address is
// refused (without checking the credential) until the window ends.
class LoginThrottle {
 public:
  LoginThrottle(int max_failures = 5, int64_t window_seconds = 60)
      : max_(max_failures), window_(window_seconds) {}
  bool Allowed(const std::string& peer, int64_t now);
  void Failed(const std::string& peer, int64_t now);
  void Succeeded(const std::string& peer);

 private:
  struct Count {
    int64_t since = 0;
    int failures = 0;
  };
  std::mutex mu_;
  std::map<std::string, Count> counts_;
  int max_;
  int64_t window_;
};

}  // namespace ca::dashboard
