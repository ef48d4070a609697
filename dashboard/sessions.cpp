#include "dashboard/sessions.h"

#include "common/encoding.h"
#include "profiles/policy/dashboard_credential.h"

namespace ca::dashboard {

using namespace ca::profiles::policy;

namespace {
// Compared against when there is nothing to compare against, so that every login costs a hash
// and a comparison.
constexpr std::string_view kNoHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

std::string StoredHash(const PolicyReader& policy, const DashboardCredentialId& id) {
  if (id.is_operator) return policy.DashboardOperatorCredentialHash(id.id).value_or("");
  auto a = policy.FindExternalAccount(id.id);
  return a ? a->dashboard_credential_sha256 : "";
}
}  // namespace

std::optional<Principal> Authenticate(const PolicyReader& policy, std::string_view credential) {
  auto id = ParseDashboardCredential(credential);
  std::string stored = id ? StoredHash(policy, *id) : "";
  bool match = DashboardCredentialMatches(credential, stored.empty() ? kNoHash : stored);
  if (!id || stored.empty() || !match) return std::nullopt;
  return Principal{id->is_operator, id->id, stored};
}

bool StillCurrent(const PolicyReader& policy, const Principal& p) {
  std::string stored = StoredHash(policy, DashboardCredentialId{p.is_operator, p.id});
  return !stored.empty() && stored == p.credential_hash;
}

bool MayRead(const Principal& p, std::string_view kid) {
  return p.is_operator || p.id == kid;
}

std::string SessionTable::Create(Principal p, int64_t now) {
  std::string id = Base64UrlEncode(RandomBytes(32));
  std::lock_guard lock(mu_);
  PurgeExpired(now);
  if (sessions_.size() >= max_) sessions_.erase(sessions_.begin());  // a random one: ids are random
  sessions_[id] = Entry{std::move(p), now + ttl_};
  return id;
}

std::optional<Principal> SessionTable::Find(std::string_view id, int64_t now) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second.principal;
}

void SessionTable::Remove(std::string_view id) {
  std::lock_guard lock(mu_);
  if (auto it = sessions_.find(id); it != sessions_.end()) sessions_.erase(it);
}

size_t SessionTable::size() {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

void SessionTable::PurgeExpired(int64_t now) {
  std::erase_if(sessions_, [now](const auto& kv) { return kv.second.expires <= now; });
}

bool LoginThrottle::Allowed(const std::string& peer, int64_t now) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(peer);
  if (it == counts_.end()) return true;
  if (now - it->second.since >= window_) {
    counts_.erase(it);
    return true;
  }
  return it->second.failures < max_;
}

void LoginThrottle::Failed(const std::string& peer, int64_t now) {
  std::lock_guard lock(mu_);
  if (counts_.size() > 100000) counts_.clear();  // bounded memory under a flood of addresses
  Count& c = counts_[peer];
  if (c.failures == 0 || now - c.since >= window_) c = Count{now, 0};
  ++c.failures;
}

void LoginThrottle::Succeeded(const std::string& peer) {
  std::lock_guard lock(mu_);
  counts_.erase(peer);
}

}  // namespace ca::dashboard
