#include "profiles/policy/admin/writer.h"

#include "profiles/policy/store_layout.h"

namespace ca::profiles::policy::admin {

using nlohmann::json;
using namespace store_layout;

Status PolicyWriteTxn::PutOrganization(const Organization& o) {
  return txn_.Put(dbs_.organizations, o.id, profiles::policy::ToJson(o).dump());
}
Status PolicyWriteTxn::PutExternalAccount(const ExternalAccount& a) {
  return txn_.Put(dbs_.external_accounts, a.kid, profiles::policy::ToJson(a).dump());
}
Status PolicyWriteTxn::PutDomain(const DomainEntry& d) {
  return txn_.Put(dbs_.domains, DomainKey(d.external_account_kid, d.fqdn),
                  profiles::policy::ToJson(d).dump());
}
Status PolicyWriteTxn::DeleteDomain(std::string_view kid, std::string_view fqdn) {
  bool deleted = CA_TRY(txn_.Delete(dbs_.domains, DomainKey(kid, fqdn)));
  if (!deleted) return Fail(ErrorCode::kNotFound, "no domain " + std::string(fqdn));
  return Ok();
}
Status PolicyWriteTxn::PutAcmeAccountPolicy(const AcmeAccountPolicy& p) {
  return txn_.Put(dbs_.acme_accounts, p.acme_account_id, profiles::policy::ToJson(p).dump());
}

Status PolicyWriteTxn::PutDashboardOperatorCredentialHash(std::string_view name,
                                                          std::string_view sha256_hex) {
  return txn_.Put(dbs_.meta, std::string(kDashboardOperatorPrefix) + std::string(name), sha256_hex);
}

Result<uint64_t> PolicyWriteTxn::NextSeq(std::string_view counter) {
  uint64_t seq = CA_TRY(MetaCounter(counter)) + 1;
  CA_TRY_STATUS(txn_.Put(dbs_.meta, counter, std::to_string(seq)));
  return seq;
}

Result<MassRevocation> PolicyWriteTxn::RecordMassRevocation(MassRevocation m) {
  m.seq = CA_TRY(NextSeq(kMassRevocationSeqKey));
  m.policy_version = version_;
  m.recorded_at = now_;
  m.actor = actor_;
  if (m.reason_name.empty()) m.reason_name = std::string(RevocationReasonName(m.reason));
  CA_TRY_STATUS(txn_.Insert(dbs_.mass_revocations, SeqKey(m.seq), profiles::policy::ToJson(m).dump()));
  return m;
}

Status PolicyWriteTxn::Audit(std::string action, std::string object_type, std::string object_id,
                             std::string account, std::string domain, json before, json after) {
  AuditRecord r;
  r.seq = CA_TRY(NextSeq(kAuditSeqKey));
  r.time = now_;
  r.actor = actor_;
  r.action = std::move(action);
  r.object_type = std::move(object_type);
  r.object_id = std::move(object_id);
  r.account = std::move(account);
  r.domain = std::move(domain);
  r.before = std::move(before);
  r.after = std::move(after);
  r.policy_version = version_;
  CA_TRY_STATUS(txn_.Insert(dbs_.audit, SeqKey(r.seq), profiles::policy::ToJson(r).dump()));
  audited_ = true;
  return Ok();
}

Status PolicyWriteTxn::Commit() {
  if (!audited_) {
    txn_.Abort();
    return Fail(ErrorCode::kInternal, "policy write without an audit record refused");
  }
  CA_TRY_STATUS(txn_.Put(dbs_.meta, kVersionKey, std::to_string(version_)));
  return txn_.Commit();
}

Result<PolicyWriter> PolicyWriter::Create(const std::string& dir, const std::string& actor,
                                          int64_t now) {
  PolicyWriter store(CA_TRY(PolicyStore::Open(dir, /*read_only=*/false, /*create=*/true)));
  auto txn = CA_TRY(kv::Txn::BeginWrite(store.env_));
  CA_TRY_STATUS(txn.Put(store.dbs_.meta, kSchemaKey, std::to_string(kPolicySchemaVersion)));
  CA_TRY_STATUS(txn.Commit());
  auto w = CA_TRY(store.BeginWrite(actor, now));
  CA_TRY_STATUS(w.Audit("store.init", "store", "", "", "", nullptr,
                        {{"schema_version", kPolicySchemaVersion}}));
  CA_TRY_STATUS(w.Commit());
  return store;
}

Result<PolicyWriter> PolicyWriter::Open(const std::string& dir) {
  return PolicyWriter(CA_TRY(PolicyStore::Open(dir, /*read_only=*/false, /*create=*/false)));
}

Result<PolicyWriteTxn> PolicyWriter::BeginWrite(std::string actor, int64_t now) const {
  auto txn = CA_TRY(kv::Txn::BeginWrite(env_));
  uint64_t version = CA_TRY(ReadVersion(txn, dbs_.meta));
  return PolicyWriteTxn(std::move(txn), dbs_, version + 1, std::move(actor), now);
}

}  // namespace ca::profiles::policy::admin
