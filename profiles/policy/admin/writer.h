// The policy store, write side (POL-7, POL-8): the RA's handle on the store and its write
// transactions. Library ca_policy_admin, linked only by ca-ra (and tests): the gateway and the
// engine link ca_policy, which can open the store read-only and nothing else.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "profiles/policy/model.h"
#include "profiles/policy/store.h"

namespace ca::profiles::policy::admin {

// One write transaction of the RA. Nothing is visible to readers until Commit(), which bumps the
// version; a transaction that did not record an audit entry refuses to commit.
class PolicyWriteTxn : public PolicyReader {
 public:
  uint64_t version() const { return version_; }  // the version this transaction commits as
  int64_t now() const { return now_; }
  const std::string& actor() const { return actor_; }

  Status PutOrganization(const Organization& o);
  Status PutExternalAccount(const ExternalAccount& a);
  Status PutDomain(const DomainEntry& d);
  Status DeleteDomain(std::string_view kid, std::string_view fqdn);
  Status PutAcmeAccountPolicy(const AcmeAccountPolicy& p);
  Status PutDashboardOperatorCredentialHash(std::string_view name, std::string_view sha256_hex);
  // Fills seq, policy_version, recorded_at and actor.
  Result<MassRevocation> RecordMassRevocation(MassRevocation m);
  // Appends one audit record (fills seq, time, actor, policy_version).
  Status Audit(std::string action, std::string object_type, std::string object_id,
               std::string account, std::string domain, nlohmann::json before,
               nlohmann::json after);

  Status Commit();

 private:
  friend class PolicyWriter;
  PolicyWriteTxn(kv::Txn txn, PolicyDbs dbs, uint64_t version, std::string actor, int64_t now)
      : PolicyReader(std::move(txn), dbs), version_(version), actor_(std::move(actor)), now_(now) {}
  Result<uint64_t> NextSeq(std::string_view counter);
  uint64_t version_ = 0;
  std::string actor_;
  int64_t now_ = 0;
  bool audited_ = false;
};

// The policy store opened for writing (ca-ra only); it reads like any PolicyStore (Snapshot()).
class PolicyWriter : public PolicyStore {
 public:
  // `ca-ra init`: creates the directory and an empty store (version 1, one audit record); refuses a
  // directory that already holds a store.
  static Result<PolicyWriter> Create(const std::string& dir, const std::string& actor, int64_t now);
  // The same refusals as PolicyStore::OpenReadOnly.
  static Result<PolicyWriter> Open(const std::string& dir);

  Result<PolicyWriteTxn> BeginWrite(std::string actor, int64_t now) const;

 private:
  explicit PolicyWriter(PolicyStore store) : PolicyStore(std::move(store)) {}
};

}  // namespace ca::profiles::policy::admin
