// The ledger (see ledger.h): audit_reader.h reads and verifies each file's new lines; this file
// files the verified entries under the external account they concern.
#include "reports/ledger.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <utility>

#include "common/log.h"
#include "pki/time.h"
#include "reports/audit_reader.h"

namespace ca::reports {

using nlohmann::json;

namespace {

std::string Str(const json& e, const char* key) {
  auto it = e.find(key);
  return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t Int(const json& e, const char* key, int64_t fallback = 0) {
  auto it = e.find(key);
  return it != e.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

std::vector<std::string> Strings(const json& e, const char* key) {
  std::vector<std::string> out;
  auto it = e.find(key);
  if (it == e.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// An entry's "ts" (common/log.h NowRfc3339: "2026-01-31T12:00:00.123Z") in unix seconds; 0 when
// absent or malformed.
int64_t EntryTime(const json& e) {
  const std::string ts = Str(e, "ts");
  if (ts.size() < 20 || ts.back() != 'Z') return 0;
  auto t = pki::ParseRfc3339(ts.substr(0, 19) + "Z");  // whole seconds: the fraction is dropped
  return t ? pki::ToUnix(*t) : 0;
}

constexpr std::string_view kRateLimitedProblem = "urn:ietf:params:acme:error:rateLimited";

// A revocation as the engine recorded it (one serial).
struct Revocation {
  std::string environment;
  int64_t at = 0;
  int reason = 0;
  std::string reason_name;
};

}  // namespace

bool CertificateEntry::ValidAt(int64_t now) const {
  if (revoked && revoked_at <= now) return false;
  return not_before <= now && now <= not_after;
}

std::string_view FailureKindName(FailureKind kind) {
  switch (kind) {
    case FailureKind::kValidation: return "validation";
    case FailureKind::kRefused: return "refused";
    case FailureKind::kRateLimited: return "rate_limited";
  }
  return "refused";
}

struct Ledger::State {
  std::vector<AuditReader> readers;  // touched only by Refresh (under refresh_mu)
  std::mutex refresh_mu;

  mutable std::shared_mutex mu;  // guards everything below
  std::map<std::string, AccountHistory, std::less<>> accounts;
  // serial -> (kid, index in that account's certificates), one per environment.
  std::multimap<std::string, std::pair<std::string, size_t>, std::less<>> by_serial;
  std::map<std::string, std::string, std::less<>> acme_account_kid;
  std::map<std::string, std::string, std::less<>> domain_kid;
  // Revocations of serials whose "issued" entry has not been read yet (env + "\n" + serial).
  std::map<std::string, Revocation> pending_revocations;
  std::vector<std::string> problems;
  std::atomic<uint64_t> version{0};

  AccountHistory& Account(const std::string& kid) {
    auto it = accounts.find(kid);
    if (it == accounts.end()) {
      it = accounts.emplace(kid, AccountHistory{}).first;
      it->second.kid = kid;
    }
    return it->second;
  }

  CertificateEntry* Find(std::string_view environment, std::string_view serial) {
    auto [lo, hi] = by_serial.equal_range(serial);
    for (auto it = lo; it != hi; ++it) {
      auto& cert = accounts[it->second.first].certificates[it->second.second];
      if (cert.environment == environment) return &cert;
    }
    return nullptr;
  }

  // The kid an entry names, directly or through its ACME account.
  std::string KidOf(const json& e) {
    std::string kid = Str(e, "external_account");
    if (!kid.empty()) return kid;
    auto it = acme_account_kid.find(Str(e, "account"));
    return it == acme_account_kid.end() ? std::string() : it->second;
  }

  void Apply(std::string_view source, const json& e);
  void ApplyIssued(const json& e);
  void ApplyRevocation(const std::string& environment, const std::string& serial, Revocation r);
  void ApplyRevokedAll(const json& e);
  void ApplyFailure(const json& e, FailureKind kind, std::string_view environment);
  void ApplyPolicyChange(const json& e);
};

void Ledger::State::Apply(std::string_view source, const json& e) {
  const std::string event = Str(e, "event");
  if (source == "engine") {
    if (event == "issued") return ApplyIssued(e);
    if (event == "revoked") {
      return ApplyRevocation(Str(e, "environment"), Str(e, "serial"),
                             {Str(e, "environment"), Int(e, "revoked_at", EntryTime(e)),
                              static_cast<int>(Int(e, "reason")), Str(e, "reason_name")});
    }
    if (event == "revoked_all_for_account") return ApplyRevokedAll(e);
    if (event == "mass_revocation_applied") {
      Revocation r{Str(e, "environment"), Int(e, "applied_at", EntryTime(e)),
                   static_cast<int>(Int(e, "reason")), Str(e, "reason_name")};
      for (const auto& serial : Strings(e, "revoked")) ApplyRevocation(r.environment, serial, r);
    }
    return;
  }
  if (source == "gateway" || source == "gateway-staging") {
    const std::string_view environment = source == "gateway" ? "production" : "staging";
    if (event == "validation_failed") return ApplyFailure(e, FailureKind::kValidation, environment);
    if (event == "issuance_refused") {
      return ApplyFailure(e,
                          Str(e, "problem") == kRateLimitedProblem ? FailureKind::kRateLimited
                                                                   : FailureKind::kRefused,
                          environment);
    }
    return;
  }
  if (event == "policy_change") ApplyPolicyChange(e);
}

void Ledger::State::ApplyIssued(const json& e) {
  CertificateEntry c;
  c.environment = Str(e, "environment");
  c.serial_hex = Str(e, "serial");
  c.external_account_kid = Str(e, "external_account");
  c.acme_account_id = Str(e, "account");
  if (c.serial_hex.empty() || c.external_account_kid.empty()) return;
  if (Find(c.environment, c.serial_hex) != nullptr) return;  // re-recorded after a restart
  c.order_id = Str(e, "order");
  c.profile = Str(e, "profile");
  c.names = Strings(e, "names");
  std::sort(c.names.begin(), c.names.end());
  c.not_before = Int(e, "not_before");
  c.not_after = Int(e, "not_after");
  c.issued_at = EntryTime(e);
  if (!c.acme_account_id.empty()) acme_account_kid[c.acme_account_id] = c.external_account_kid;
  auto pending = pending_revocations.find(c.environment + "\n" + c.serial_hex);
  if (pending != pending_revocations.end()) {
    c.revoked = true;
    c.revoked_at = pending->second.at;
    c.reason = pending->second.reason;
    c.reason_name = pending->second.reason_name;
    pending_revocations.erase(pending);
  }
  AccountHistory& account = Account(c.external_account_kid);
  by_serial.emplace(c.serial_hex, std::pair{c.external_account_kid, account.certificates.size()});
  account.certificates.push_back(std::move(c));
}

void Ledger::State::ApplyRevocation(const std::string& environment, const std::string& serial,
                                    Revocation r) {
  CertificateEntry* cert = Find(environment, serial);
  if (cert == nullptr) {
    pending_revocations.try_emplace(environment + "\n" + serial, std::move(r));
    return;
  }
  if (cert->revoked) return;  // the first revocation stands (a repeat changes nothing)
  cert->revoked = true;
  cert->revoked_at = r.at;
  cert->reason = r.reason;
  cert->reason_name = std::move(r.reason_name);
}

// The engine's revokeAll lists no serials: every certificate of the account (ACME account, or the
// whole external account) issued before it and not expired by then was revoked by it.
void Ledger::State::ApplyRevokedAll(const json& e) {
  const std::string kid = KidOf(e), acme = Str(e, "account"), env = Str(e, "environment");
  auto it = accounts.find(kid);
  if (it == accounts.end()) return;
  const int64_t at = EntryTime(e);
  for (auto& cert : it->second.certificates) {
    if (cert.environment != env || (!acme.empty() && cert.acme_account_id != acme)) continue;
    if (cert.issued_at > at || cert.not_after < at) continue;
    ApplyRevocation(env, cert.serial_hex,
                    {env, at, static_cast<int>(Int(e, "reason")), Str(e, "reason_name")});
  }
}

void Ledger::State::ApplyFailure(const json& e, FailureKind kind, std::string_view environment) {
  FailureEntry f;
  f.environment = std::string(environment);
  f.external_account_kid = KidOf(e);
  if (f.external_account_kid.empty()) return;  // before any account (bad EAB, unknown key)
  f.at = EntryTime(e);
  f.kind = kind;
  f.acme_account_id = Str(e, "account");
  f.name = Str(e, "name");
  if (f.name.empty()) {
    auto names = Strings(e, "names");
    for (size_t i = 0; i < names.size(); ++i) f.name += (i ? ", " : "") + names[i];
  }
  f.challenge = Str(e, "challenge");
  f.result_code = Str(e, "result_code");
  f.problem = Str(e, "problem");
  f.detail = Str(e, "detail");
  auto& failures = Account(f.external_account_kid).failures;
  auto pos = std::upper_bound(failures.begin(), failures.end(), f.at,
                              [](int64_t at, const FailureEntry& x) { return at < x.at; });
  failures.insert(pos, std::move(f));
}

// profiles/policy/admin/admin.cpp: `account` is the kid for external accounts, domains and
// certificates, the ACME account id for ACME accounts (whose record names its kid); organizations
// name no account.
void Ledger::State::ApplyPolicyChange(const json& e) {
  ChangeEntry c;
  c.at = Int(e, "policy_time", EntryTime(e));
  c.actor = Str(e, "actor");
  c.action = Str(e, "action");
  c.object_type = Str(e, "object_type");
  c.object_id = Str(e, "object_id");
  c.domain = Str(e, "domain");
  c.before = e.contains("before") ? e["before"] : json();
  c.after = e.contains("after") ? e["after"] : json();
  const std::string account = Str(e, "account");
  std::string kid;
  if (c.object_type == "acme_account") {
    for (const json* side : {&c.after, &c.before}) {
      if (kid.empty() && side->is_object()) kid = Str(*side, "external_account_kid");
    }
    if (kid.empty()) {
      auto it = acme_account_kid.find(account);
      if (it != acme_account_kid.end()) kid = it->second;
    }
    if (!kid.empty() && !account.empty()) acme_account_kid[account] = kid;
  } else if (!account.empty()) {
    auto it = acme_account_kid.find(account);
    kid = it != acme_account_kid.end() ? it->second : account;
  } else if (!c.domain.empty()) {
    auto it = domain_kid.find(c.domain);
    if (it != domain_kid.end()) kid = it->second;
  }
  if (kid.empty()) return;  // an organization's change: no single account
  if (c.object_type == "domain" && !c.domain.empty()) domain_kid[c.domain] = kid;
  auto& changes = Account(kid).changes;
  auto pos = std::upper_bound(changes.begin(), changes.end(), c.at,
                              [](int64_t at, const ChangeEntry& x) { return at < x.at; });
  changes.insert(pos, std::move(c));
}

Ledger::Ledger(std::unique_ptr<State> state) : state_(std::move(state)) {}
Ledger::Ledger(Ledger&&) noexcept = default;
Ledger& Ledger::operator=(Ledger&&) noexcept = default;
Ledger::~Ledger() = default;

Result<Ledger> Ledger::Open(AuditSources sources) {
  auto state = std::make_unique<State>();
  for (auto& [name, path] :
       {std::pair{"engine", &sources.engine}, std::pair{"gateway", &sources.gateway},
        std::pair{"ra", &sources.ra}, std::pair{"gateway-staging", &sources.gateway_staging}}) {
    if (!path->empty()) state->readers.emplace_back(name, std::move(*path));
  }
  if (state->readers.empty())
    return Fail(ErrorCode::kInvalidArgument, "the ledger needs at least one audit file");
  return Ledger(std::move(state));
}

Result<size_t> Ledger::Refresh() {
  State& s = *state_;
  std::lock_guard refresh(s.refresh_mu);
  std::optional<Error> first_error;
  size_t taken = 0;
  for (auto& reader : s.readers) {
    // A bounded batch at a time: the file is read without the lock, the entries filed under it.
    do {
      std::vector<json> entries;
      Status read = reader.ReadNew(entries);  // what verified before a break is kept
      if (!read && read.error().code != ErrorCode::kCorrupt && !first_error) first_error = read.error();
      if (!read && read.error().code != ErrorCode::kCorrupt)
        log::Error("ledger_read_failed", {{"error", read.error().ToString()}});
      std::unique_lock lock(s.mu);
      for (const auto& e : entries) s.Apply(reader.source(), e);
      taken += entries.size();
      if (!read) break;
    } while (!reader.drained());
  }
  {
    std::unique_lock lock(s.mu);
    s.problems.clear();
    for (const auto& reader : s.readers)
      if (!reader.problem().empty()) s.problems.push_back(reader.problem());
  }
  if (taken > 0) s.version.fetch_add(1);
  if (first_error) return std::unexpected(*first_error);
  for (const auto& reader : s.readers) {
    if (!reader.problem().empty()) return Fail(ErrorCode::kCorrupt, reader.problem());
  }
  return taken;
}

uint64_t Ledger::version() const {
  return state_->version.load();
}

AccountHistory Ledger::History(std::string_view kid) const {
  std::shared_lock lock(state_->mu);
  auto it = state_->accounts.find(kid);
  if (it != state_->accounts.end()) return it->second;
  AccountHistory empty;
  empty.kid = std::string(kid);
  return empty;
}

std::vector<std::string> Ledger::Accounts() const {
  std::shared_lock lock(state_->mu);
  std::vector<std::string> out;
  for (const auto& [kid, history] : state_->accounts) out.push_back(kid);
  return out;
}

std::optional<CertificateEntry> Ledger::FindCertificate(std::string_view serial_hex) const {
  std::shared_lock lock(state_->mu);
  auto it = state_->by_serial.find(serial_hex);
  if (it == state_->by_serial.end()) return std::nullopt;
  return state_->accounts.find(it->second.first)->second.certificates[it->second.second];
}

std::vector<std::string> Ledger::Problems() const {
  std::shared_lock lock(state_->mu);
  return state_->problems;
}

}  // namespace ca::reports
