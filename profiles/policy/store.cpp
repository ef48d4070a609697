#include "profiles/policy/store.h"

#include <charconv>
#include <cstdio>
#include <filesystem>

#include "common/decoded_records.h"
#include "common/log.h"
#include "profiles/policy/store_layout.h"

namespace ca::profiles::policy {

using nlohmann::json;
using namespace store_layout;

namespace store_layout {

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

Result<uint64_t> ReadVersion(const kv::Txn& txn, kv::Table meta) {
  auto v = CA_TRY(txn.Get(meta, kVersionKey));
  if (!v) return uint64_t{0};
  auto n = ParseU64(*v);
  if (!n) return Fail(ErrorCode::kCorrupt, "policy store version is malformed");
  return *n;
}

}  // namespace store_layout

namespace {

// Records parsed in this process, by database and key with the exact bytes parsed (never stale:
// common/decoded_records.h). The gateway reads the same external account, organisation and domain
// records several times per request (standing, decision, challenge types) and the JSON parse of an
// external account alone was ~5 % of its CPU. One per record type, for every store of the process
// (a hit needs identical bytes, so two stores cannot mix); never destroyed (threads may still read
// at exit).
template <class T>
DecodedRecords<T>& ParsedRecords() {
  static auto* records = new DecodedRecords<T>(4096);
  return *records;
}

// Finds and parses one record; a malformed record is logged and treated as absent.
template <class T>
std::optional<T> FindRecord(const kv::Txn& txn, kv::Table dbi, std::string_view key,
                            Result<T> (*parse)(std::string_view)) {
  auto v = txn.Get(dbi, key);
  if (!v) {
    log::Error("policy_read_failed", {{"key", key}, {"error", v.error().ToString()}});
    return std::nullopt;
  }
  if (!v->has_value()) return std::nullopt;
  std::string slot = std::to_string(dbi);
  slot += '/';
  slot += key;
  if (auto hit = ParsedRecords<T>().Find(slot, **v)) return hit;
  auto rec = parse(**v);
  if (!rec) {
    log::Error("policy_record_corrupt", {{"key", key}, {"error", rec.error().ToString()}});
    return std::nullopt;
  }
  ParsedRecords<T>().Put(std::move(slot), **v, *rec);
  return std::move(*rec);
}

template <class T>
std::vector<T> ListRecords(const kv::Txn& txn, kv::Table dbi, std::string_view prefix,
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
std::optional<std::string> PolicyReader::DashboardOperatorCredentialHash(
    std::string_view name) const {
  auto v = txn_.Get(dbs_.meta, std::string(kDashboardOperatorPrefix) + std::string(name));
  if (!v || !*v) return std::nullopt;
  return std::string(**v);
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
  for (const auto& o : Organizations()) orgs.push_back(profiles::policy::ToJson(o));
  for (const auto& a : ExternalAccounts()) accounts.push_back(ToPublicJson(a, now));
  for (const auto& d : AllDomains()) domains.push_back(profiles::policy::ToJson(d));
  for (const auto& p : AcmeAccountPolicies()) acme.push_back(profiles::policy::ToJson(p));
  for (const auto& m : MassRevocations()) revs.push_back(profiles::policy::ToJson(m));
  out["organizations"] = orgs;
  out["external_accounts"] = accounts;
  out["domains"] = domains;
  out["acme_accounts"] = acme;
  out["mass_revocations"] = revs;
  auto audit_count = MetaCounter(kAuditSeqKey);
  out["audit_count"] = audit_count ? *audit_count : 0;
  return out;
}

Result<PolicyStore> PolicyStore::Open(const std::string& dir, bool read_only, bool create) {
  namespace fs = std::filesystem;
  // A directory (LMDB) exists when its data file does; a pg: location when its schema is written.
  const bool pg = kv::IsPostgresLocation(dir);
  if (!pg) {
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
      fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec,
                      ec);
    }
  }
  kv::EnvOptions options;
  options.location = dir;
  options.read_only = read_only;
  options.create = pg && create;
  options.map_size = size_t{1} << 30;
  auto env = CA_TRY(kv::Env::Open(options));

  PolicyDbs dbs;
  bool make = create;
  dbs.meta = CA_TRY(env.OpenTable("meta", make));
  dbs.organizations = CA_TRY(env.OpenTable("organizations", make));
  dbs.external_accounts = CA_TRY(env.OpenTable("external_accounts", make));
  dbs.domains = CA_TRY(env.OpenTable("domains", make));
  dbs.acme_accounts = CA_TRY(env.OpenTable("acme_accounts", make));
  dbs.mass_revocations = CA_TRY(env.OpenTable("mass_revocations", make));
  dbs.audit = CA_TRY(env.OpenTable("audit", make));

  if (!create || pg) {
    auto txn = CA_TRY(kv::Txn::BeginRead(env));
    auto schema = CA_TRY(txn.Get(dbs.meta, kSchemaKey));
    if (pg && create && schema) {
      return Fail(ErrorCode::kAlreadyExists, "a policy store already exists in " + dir);
    }
    if (pg && !create && !schema) {
      return Fail(ErrorCode::kNotFound, "no policy store in " + dir + " (run 'ca-ra init')");
    }
    if (!create && !schema)
      return Fail(ErrorCode::kCorrupt, dir + " is not a policy store (no schema version)");
    auto n = schema ? ParseU64(*schema) : std::optional<uint64_t>(kPolicySchemaVersion);
    if (!n || *n != kPolicySchemaVersion) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "policy store " + dir + " has schema version " + std::string(*schema) +
                      ", this build supports only version " + std::to_string(kPolicySchemaVersion) +
                      " (refusing to open a newer or unknown schema)");
    }
  }
  return PolicyStore(std::move(env), dbs);
}

Result<PolicyStore> PolicyStore::OpenReadOnly(const std::string& dir) {
  return Open(dir, /*read_only=*/true, /*create=*/false);
}

Result<PolicySnapshot> PolicyStore::Snapshot() const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  uint64_t version = CA_TRY(ReadVersion(txn, dbs_.meta));
  return PolicySnapshot(std::move(txn), dbs_, version);
}

}  // namespace ca::profiles::policy
