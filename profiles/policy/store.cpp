#include "profiles/policy/store.h"

#include <charconv>
#include <cstdio>
#include <filesystem>

#include "common/log.h"

namespace ca::policy {

using nlohmann::json;

namespace {

constexpr std::string_view kSchemaKey = "schema_version";
constexpr std::string_view kVersionKey = "version";
constexpr std::string_view kAuditSeqKey = "audit_seq";
constexpr std::string_view kMassRevocationSeqKey = "mass_revocation_seq";

std::string SeqKey(uint64_t seq) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(seq));
  return buf;
}

std::string DomainKey(std::string_view kid, std::string_view fqdn) {
  return std::string(kid) + "\n" + std::string(fqdn);
}

std::optional<uint64_t> ParseU64(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Finds and parses one record; a malformed record is logged and treated as absent.
template <class T>
std::optional<T> FindRecord(const lmdb::Txn& txn, MDB_dbi dbi, std::string_view key,
                            Result<T> (*parse)(std::string_view)) {
  auto v = txn.Get(dbi, key);
  if (!v) {
    log::Error("policy_read_failed", {{"key", key}, {"error", v.error().ToString()}});
    return std::nullopt;
  }
  if (!v->has_value()) return std::nullopt;
  auto rec = parse(**v);
  if (!rec) {
    log::Error("policy_record_corrupt", {{"key", key}, {"error", rec.error().ToString()}});
    return std::nullopt;
  }
  return std::move(*rec);
}

template <class T>
std::vector<T> ListRecords(const lmdb::Txn& txn, MDB_dbi dbi, std::string_view prefix,
                           Result<T> (*parse)(std::string_view)) {
  std::vector<T> out;
  auto st = txn.ForEach(dbi, prefix, [&](std::string_view key, std::string_view value) {
    auto rec = parse(value);
    if (rec) {
      out.push_back(std::move(*rec));
    } else {
      log::Error("policy_record_corrupt", {{"key", key}, {"error", rec.error().ToString()}});
    }
    return true;
  });
  if (!st) log::Error("policy_read_failed", {{"error", st.error().ToString()}});
  return out;
}

// An ACME-account or domain record names its external account: filtering by a KeyID shows them too.
bool MentionsKid(const json& record, const std::string& kid) {
  return record.is_object() && record.contains("external_account_kid") &&
         record["external_account_kid"] == kid;
}

}  // namespace

std::optional<Organization> PolicyReader::FindOrganization(std::string_view id) const {
  return FindRecord<Organization>(txn_, dbs_.organizations, id, OrganizationFromJson);
}
std::optional<ExternalAccount> PolicyReader::FindExternalAccount(std::string_view kid) const {
  return FindRecord<ExternalAccount>(txn_, dbs_.external_accounts, kid, ExternalAccountFromJson);
}
std::optional<DomainEntry> PolicyReader::FindDomain(std::string_view kid,
                                                    std::string_view fqdn) const {
  return FindRecord<DomainEntry>(txn_, dbs_.domains, DomainKey(kid, fqdn), DomainEntryFromJson);
}
std::optional<AcmeAccountPolicy> PolicyReader::FindAcmeAccountPolicy(
    std::string_view acme_account_id) const {
  return FindRecord<AcmeAccountPolicy>(txn_, dbs_.acme_accounts, acme_account_id,
                                       AcmeAccountPolicyFromJson);
}

std::vector<Organization> PolicyReader::Organizations() const {
  return ListRecords<Organization>(txn_, dbs_.organizations, "", OrganizationFromJson);
}
std::vector<ExternalAccount> PolicyReader::ExternalAccounts() const {
  return ListRecords<ExternalAccount>(txn_, dbs_.external_accounts, "", ExternalAccountFromJson);
}
std::vector<DomainEntry> PolicyReader::DomainsOf(std::string_view kid) const {
  if (kid.empty()) return {};
  return ListRecords<DomainEntry>(txn_, dbs_.domains, std::string(kid) + "\n", DomainEntryFromJson);
}
std::vector<DomainEntry> PolicyReader::AllDomains() const {
  return ListRecords<DomainEntry>(txn_, dbs_.domains, "", DomainEntryFromJson);
}
std::vector<AcmeAccountPolicy> PolicyReader::AcmeAccountPolicies() const {
  return ListRecords<AcmeAccountPolicy>(txn_, dbs_.acme_accounts, "", AcmeAccountPolicyFromJson);
}

std::vector<MassRevocation> PolicyReader::MassRevocations(uint64_t after_seq) const {
  auto all = ListRecords<MassRevocation>(txn_, dbs_.mass_revocations, "", MassRevocationFromJson);
  std::erase_if(all, [&](const MassRevocation& m) { return m.seq <= after_seq; });
  return all;
}

std::vector<AuditRecord> PolicyReader::Audit(const AuditFilter& filter) const {
  auto all = ListRecords<AuditRecord>(txn_, dbs_.audit, "", AuditRecordFromJson);
  std::erase_if(all, [&](const AuditRecord& r) {
    if (!filter.account.empty() && r.account != filter.account && r.object_id != filter.account &&
        !MentionsKid(r.before, filter.account) && !MentionsKid(r.after, filter.account)) {
      return true;
    }
    if (!filter.domain.empty() && r.domain != filter.domain) return true;
    if (filter.since && r.time < *filter.since) return true;
    if (filter.until && r.time > *filter.until) return true;
    return false;
  });
  return all;
}

Result<uint64_t> PolicyReader::MetaCounter(std::string_view key) const {
  auto v = CA_TRY(txn_.Get(dbs_.meta, key));
  if (!v) return uint64_t{0};
  auto n = ParseU64(*v);
  if (!n)
    return Fail(ErrorCode::kCorrupt, "policy store meta '" + std::string(key) + "' is malformed");
  return *n;
}

json PolicySnapshot::ToJson(int64_t now) const {
  json out = {{"version", version_}, {"schema_version", kPolicySchemaVersion}};
  json orgs = json::array(), accounts = json::array(), domains = json::array(),
       acme = json::array(), revs = json::array();
  for (const auto& o : Organizations()) orgs.push_back(policy::ToJson(o));
  for (const auto& a : ExternalAccounts()) accounts.push_back(ToPublicJson(a, now));
  for (const auto& d : AllDomains()) domains.push_back(policy::ToJson(d));
  for (const auto& p : AcmeAccountPolicies()) acme.push_back(policy::ToJson(p));
  for (const auto& m : MassRevocations()) revs.push_back(policy::ToJson(m));
  out["organizations"] = orgs;
  out["external_accounts"] = accounts;
  out["domains"] = domains;
  out["acme_accounts"] = acme;
  out["mass_revocations"] = revs;
  auto audit_count = MetaCounter(kAuditSeqKey);
  out["audit_count"] = audit_count ? *audit_count : 0;
  return out;
}

Status PolicyWriteTxn::PutOrganization(const Organization& o) {
  return txn_.Put(dbs_.organizations, o.id, policy::ToJson(o).dump());
}
Status PolicyWriteTxn::PutExternalAccount(const ExternalAccount& a) {
  return txn_.Put(dbs_.external_accounts, a.kid, policy::ToJson(a).dump());
}
Status PolicyWriteTxn::PutDomain(const DomainEntry& d) {
  return txn_.Put(dbs_.domains, DomainKey(d.external_account_kid, d.fqdn),
                  policy::ToJson(d).dump());
}
Status PolicyWriteTxn::DeleteDomain(std::string_view kid, std::string_view fqdn) {
  bool deleted = CA_TRY(txn_.Delete(dbs_.domains, DomainKey(kid, fqdn)));
  if (!deleted) return Fail(ErrorCode::kNotFound, "no domain " + std::string(fqdn));
  return Ok();
}
Status PolicyWriteTxn::PutAcmeAccountPolicy(const AcmeAccountPolicy& p) {
  return txn_.Put(dbs_.acme_accounts, p.acme_account_id, policy::ToJson(p).dump());
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
  CA_TRY_STATUS(txn_.Insert(dbs_.mass_revocations, SeqKey(m.seq), policy::ToJson(m).dump()));
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
  CA_TRY_STATUS(txn_.Insert(dbs_.audit, SeqKey(r.seq), policy::ToJson(r).dump()));
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

Result<PolicyStore> PolicyStore::Open(const std::string& dir, bool read_only, bool create) {
  namespace fs = std::filesystem;
  std::error_code ec;
  bool exists = fs::exists(fs::path(dir) / "data.mdb", ec);
  if (create && exists) {
    return Fail(ErrorCode::kAlreadyExists, "a policy store already exists in " + dir);
  }
  if (!create && !exists) {
    return Fail(ErrorCode::kNotFound, "no policy store in " + dir + " (run 'ca-ra init')");
  }
  if (create) {
    fs::create_directories(dir, ec);
    if (ec) return Fail(ErrorCode::kIo, "cannot create " + dir + ": " + ec.message());
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
  }
  lmdb::EnvOptions options;
  options.path = dir;
  options.read_only = read_only;
  options.map_size = size_t{1} << 30;
  auto env = CA_TRY(lmdb::Env::Open(options));

  PolicyDbs dbs;
  bool make = create;
  dbs.meta = CA_TRY(env.OpenDb("meta", make));
  dbs.organizations = CA_TRY(env.OpenDb("organizations", make));
  dbs.external_accounts = CA_TRY(env.OpenDb("external_accounts", make));
  dbs.domains = CA_TRY(env.OpenDb("domains", make));
  dbs.acme_accounts = CA_TRY(env.OpenDb("acme_accounts", make));
  dbs.mass_revocations = CA_TRY(env.OpenDb("mass_revocations", make));
  dbs.audit = CA_TRY(env.OpenDb("audit", make));

  if (!create) {
    auto txn = CA_TRY(lmdb::Txn::BeginRead(env));
    auto schema = CA_TRY(txn.Get(dbs.meta, kSchemaKey));
    if (!schema)
      return Fail(ErrorCode::kCorrupt, dir + " is not a policy store (no schema version)");
    auto n = ParseU64(*schema);
    if (!n || *n != kPolicySchemaVersion) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "policy store " + dir + " has schema version " + std::string(*schema) +
                      ", this build supports only version " + std::to_string(kPolicySchemaVersion) +
                      " (refusing to open a newer or unknown schema)");
    }
  }
  return PolicyStore(std::move(env), dbs);
}

Result<PolicyStore> PolicyStore::Create(const std::string& dir, const std::string& actor,
                                        int64_t now) {
  auto store = CA_TRY(Open(dir, /*read_only=*/false, /*create=*/true));
  auto txn = CA_TRY(lmdb::Txn::BeginWrite(store.env_));
  CA_TRY_STATUS(txn.Put(store.dbs_.meta, kSchemaKey, std::to_string(kPolicySchemaVersion)));
  CA_TRY_STATUS(txn.Commit());
  auto w = CA_TRY(store.BeginWrite(actor, now));
  CA_TRY_STATUS(w.Audit("store.init", "store", "", "", "", nullptr,
                        {{"schema_version", kPolicySchemaVersion}}));
  CA_TRY_STATUS(w.Commit());
  return store;
}

Result<PolicyStore> PolicyStore::OpenReadOnly(const std::string& dir) {
  return Open(dir, /*read_only=*/true, /*create=*/false);
}

Result<PolicyStore> PolicyStore::OpenWriter(const std::string& dir) {
  return Open(dir, /*read_only=*/false, /*create=*/false);
}

Result<PolicySnapshot> PolicyStore::Snapshot() const {
  auto txn = CA_TRY(lmdb::Txn::BeginRead(env_));
  auto v = CA_TRY(txn.Get(dbs_.meta, kVersionKey));
  uint64_t version = 0;
  if (v) {
    auto n = ParseU64(*v);
    if (!n) return Fail(ErrorCode::kCorrupt, "policy store version is malformed");
    version = *n;
  }
  return PolicySnapshot(std::move(txn), dbs_, version);
}

Result<PolicyWriteTxn> PolicyStore::BeginWrite(std::string actor, int64_t now) const {
  auto txn = CA_TRY(lmdb::Txn::BeginWrite(env_));
  auto v = CA_TRY(txn.Get(dbs_.meta, kVersionKey));
  uint64_t version = 0;
  if (v) {
    auto n = ParseU64(*v);
    if (!n) return Fail(ErrorCode::kCorrupt, "policy store version is malformed");
    version = *n;
  }
  return PolicyWriteTxn(std::move(txn), dbs_, version + 1, std::move(actor), now);
}

}  // namespace ca::policy
