// The policy store, read side: one store (kv/kv.h: LMDB or PostgreSQL) written only by the RA CLI
// (POL-7), read by the gateway and the engine. A snapshot is one read transaction, so a reader sees
// one version of the whole policy (never a mix) and never blocks the writer. The write side
// (PolicyWriter, PolicyWriteTxn: every write transaction bumps the version and appends its audit
// records in the same transaction, POL-8) is in profiles/policy/admin/writer.h, library
// ca_policy_admin, which only ca-ra links (checked by profiles/policy/admin/CMakeLists.txt).
//
// Named databases: meta (schema_version, version, sequence counters), organizations (id),
// external_accounts (kid), domains (kid "\n" fqdn), acme_accounts (ACME account id),
// mass_revocations and audit (20-digit sequence numbers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "kv/kv.h"
#include "profiles/policy/model.h"

namespace ca::profiles::policy {

inline constexpr uint32_t kPolicySchemaVersion = 1;

struct PolicyDbs {
  kv::Table meta = 0, organizations = 0, external_accounts = 0, domains = 0, acme_accounts = 0,
            mass_revocations = 0, audit = 0;
};

struct AuditFilter {
  // Matches the record's account or object id (KeyID or ACME account id); a KeyID also matches
  // the records of its ACME accounts and domains.
  std::string account;
  std::string domain;            // matches the record's domain (normalised fqdn)
  std::optional<int64_t> since;  // inclusive, unix seconds
  std::optional<int64_t> until;  // inclusive
};

// Read access shared by snapshots and write transactions. Finders return nullopt for an absent
// record and also for a record that fails to parse (logged): readers fail closed.
class PolicyReader {
 public:
  PolicyReader(PolicyReader&&) noexcept = default;
  PolicyReader& operator=(PolicyReader&&) noexcept = default;

  std::optional<Organization> FindOrganization(std::string_view id) const;
  std::optional<ExternalAccount> FindExternalAccount(std::string_view kid) const;
  std::optional<DomainEntry> FindDomain(std::string_view kid, std::string_view fqdn) const;
  std::optional<AcmeAccountPolicy> FindAcmeAccountPolicy(std::string_view acme_account_id) const;

  std::vector<Organization> Organizations() const;
  std::vector<ExternalAccount> ExternalAccounts() const;
  std::vector<DomainEntry> DomainsOf(std::string_view kid) const;  // fqdn order
  std::vector<DomainEntry> AllDomains() const;
  std::vector<AcmeAccountPolicy> AcmeAccountPolicies() const;
  // Every recorded mass revocation with seq > after_seq, oldest first.
  std::vector<MassRevocation> MassRevocations(uint64_t after_seq = 0) const;
  std::vector<AuditRecord> Audit(const AuditFilter& filter = {}) const;
  // The SHA-256 (hex) of operator `name`'s dashboard credential, if one was issued.
  std::optional<std::string> DashboardOperatorCredentialHash(std::string_view name) const;

 protected:
  PolicyReader(kv::Txn txn, PolicyDbs dbs) : txn_(std::move(txn)), dbs_(dbs) {}
  Result<uint64_t> MetaCounter(std::string_view key) const;

  kv::Txn txn_;
  PolicyDbs dbs_;
};

// One consistent, read-only view (one LMDB read transaction). Movable; must not outlive its store.
class PolicySnapshot : public PolicyReader {
 public:
  uint64_t version() const { return version_; }
  // Everything (no key material): {"version", "organizations", "external_accounts", "domains",
  // "acme_accounts", "mass_revocations", "audit_count"}.
  nlohmann::json ToJson(int64_t now) const;

 private:
  friend class PolicyStore;
  PolicySnapshot(kv::Txn txn, PolicyDbs dbs, uint64_t version)
      : PolicyReader(std::move(txn), dbs), version_(version) {}
  uint64_t version_ = 0;
};

class PolicyStore {
 public:
  // Refuse a missing store, a store of another schema version, a network filesystem and a second
  // open of the same store in this process.
  static Result<PolicyStore> OpenReadOnly(const std::string& dir);

  Result<PolicySnapshot> Snapshot() const;

  const std::string& path() const { return env_.location(); }

 protected:
  // For PolicyWriter (profiles/policy/admin/writer.h): opens the LMDB environment of `dir` and its
  // named databases (created when `create`); an existing store's schema version is checked.
  static Result<PolicyStore> Open(const std::string& dir, bool read_only, bool create);
  PolicyStore(kv::Env env, PolicyDbs dbs) : env_(std::move(env)), dbs_(dbs) {}
  kv::Env env_;
  PolicyDbs dbs_;
};

}  // namespace ca::profiles::policy
