#include "engine/ca_store.h"

#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "common/log.h"
#include "crl_ocsp/crl_scope.h"
#include "pki/json_fields.h"

namespace ca::engine {

using nlohmann::json;

std::string CertRecordToJson(const CertRecord& r) {
  json j{{"state", r.state == CertState::kIssued ? "issued" : "reserved"},
              {"der", Base64Encode(r.der)},
              {"request_id", r.request_id},
              {"order_id", r.order_id},
              {"acme_account_id", r.acme_account_id},
              {"external_account_kid", r.external_account_kid},
              {"profile", r.profile},
              {"names", r.names},
              {"key_fingerprint", r.key_fingerprint},
              {"not_before", r.not_before},
              {"not_after", r.not_after},
              {"reserved_at", r.reserved_at},
              {"issued_at", r.issued_at},
              {"revoked", r.revoked},
              {"revoked_at", r.revoked_at},
              {"reason", r.reason},
              {"revoked_by", r.revoked_by},
              {"ocsp", r.ocsp}};
  if (r.crl_shard) j["crl_shard"] = *r.crl_shard;
  return j.dump();
}

Result<CertRecord> CertRecordFromJson(std::string_view serial_hex, std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto r = CA_TRY(pki::JsonFields::Of(j, "CA store record " + std::string(serial_hex),
                                      ErrorCode::kCorrupt));
  CertRecord out;
  out.serial_hex = std::string(serial_hex);
  std::string state = CA_TRY(r.String("state"));
  if (state != "issued" && state != "reserved") return r.Bad("state", "unknown '" + state + "'");
  out.state = state == "issued" ? CertState::kIssued : CertState::kReserved;
  auto der = Base64Decode(CA_TRY(r.String("der")));
  if (!der) return r.Bad("der", "not base64");
  out.der = std::move(*der);
  out.request_id = CA_TRY(r.String("request_id"));
  out.order_id = CA_TRY(r.String("order_id"));
  out.acme_account_id = CA_TRY(r.String("acme_account_id"));
  out.external_account_kid = CA_TRY(r.String("external_account_kid"));
  out.profile = CA_TRY(r.String("profile"));
  out.names = CA_TRY(r.StringList("names"));
  out.key_fingerprint = CA_TRY(r.String("key_fingerprint"));
  out.not_before = CA_TRY(r.Int("not_before"));
  out.not_after = CA_TRY(r.Int("not_after"));
  out.reserved_at = CA_TRY(r.Int("reserved_at"));
  out.issued_at = CA_TRY(r.Int("issued_at"));
  out.revoked = CA_TRY(r.Bool("revoked"));
  out.revoked_at = CA_TRY(r.Int("revoked_at"));
  out.reason = static_cast<int>(CA_TRY(r.Int("reason")));
  out.revoked_by = CA_TRY(r.String("revoked_by"));
  out.ocsp = CA_TRY(r.OptionalBool("ocsp")).value_or(true);
  if (auto shard = CA_TRY(r.OptionalIntIn("crl_shard", 0, crl_ocsp::kMaxCrlShards - 1)))
    out.crl_shard = static_cast<uint32_t>(*shard);
  return out;
}

std::string AccountIndexKey(char kind, std::string_view id, std::string_view serial_hex) {
  std::string key(1, kind);
  key += '\n';
  key += id;
  key += '\n';
  key += serial_hex;
  return key;
}

Result<std::optional<CertRecord>> GetCert(const kv::Txn& txn, const StoreDbs& dbs,
                                          std::string_view serial_hex) {
  auto value = CA_TRY(txn.Get(dbs.certs, serial_hex));
  if (!value) return std::optional<CertRecord>();
  return std::optional<CertRecord>(CA_TRY(CertRecordFromJson(serial_hex, *value)));
}

Status PutCert(kv::Txn& txn, const StoreDbs& dbs, const CertRecord& record) {
  return txn.Put(dbs.certs, record.serial_hex, CertRecordToJson(record));
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<CaStore>> CaStore::Open(const std::string& dir) {
  kv::EnvOptions options;
  options.location = dir;
  options.create = true;
  kv::Env env = CA_TRY(kv::Env::Open(options));
  StoreDbs dbs;
  dbs.certs = CA_TRY(env.OpenTable("certs", true));
  dbs.pending = CA_TRY(env.OpenTable("pending", true));
  dbs.requests = CA_TRY(env.OpenTable("requests", true));
  dbs.key_fps = CA_TRY(env.OpenTable("key_fps", true));
  dbs.by_account = CA_TRY(env.OpenTable("by_account", true));
  dbs.revoked = CA_TRY(env.OpenTable("revoked", true));
  dbs.meta = CA_TRY(env.OpenTable("meta", true));
  std::unique_ptr<CaStore> store(new CaStore(std::move(env), dbs));
  store->committer_ = std::make_unique<kv::GroupCommitter>(store->env_);
  return store;
}

Status PendingWrite::Wait() {
  CA_TRY_STATUS(committed_.get());
  return *refusal_;
}

Status CaStore::Write(const WriteOp& op) { return Submit(op).Wait(); }

PendingWrite CaStore::Submit(WriteOp op) {
  auto refusal = std::make_shared<Status>();
  auto committed = committer_->Submit([this, refusal, op = std::move(op)](kv::Txn& txn) -> Status {
    *refusal = Ok();
    Status s = op(txn, dbs_);
    if (!s) {
      switch (s.error().code) {
        case ErrorCode::kAlreadyExists:
        case ErrorCode::kPermissionDenied:
        case ErrorCode::kFailedPrecondition:
        case ErrorCode::kNotFound:
          *refusal = std::move(s);  // nothing written (see WriteOp)
          return Ok();
        default:
          return s;
      }
    }
    return s;
  });
  return PendingWrite(std::move(committed), std::move(refusal));
}

Result<std::optional<CertRecord>> CaStore::FindCert(std::string_view serial_hex) const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  return GetCert(txn, dbs_, serial_hex);
}

Result<std::optional<std::pair<std::string, std::string>>> CaStore::FindRequest(std::string_view request_id) const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  auto value = CA_TRY(txn.Get(dbs_.requests, request_id));
  using Out = std::optional<std::pair<std::string, std::string>>;
  if (!value) return Out();
  json j = json::parse(*value, nullptr, /*allow_exceptions=*/false);
  auto r = CA_TRY(pki::JsonFields::Of(j, "CA store request record " + std::string(request_id),
                                      ErrorCode::kCorrupt));
  std::string hash = CA_TRY(r.String("hash"));
  return Out(std::pair{std::move(hash), CA_TRY(r.String("serial"))});
}

Result<bool> CaStore::KnownKey(std::string_view fingerprint_hex) const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  auto value = CA_TRY(txn.Get(dbs_.key_fps, fingerprint_hex));
  return value.has_value();
}

Result<std::vector<std::string>> CaStore::PendingSerials() const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  std::vector<std::string> out;
  CA_TRY_STATUS(txn.ForEach(dbs_.pending, "", [&](std::string_view k, std::string_view) {
    out.emplace_back(k);
    return true;
  }));
  return out;
}

Result<std::vector<std::string>> CaStore::SerialsOf(char kind, std::string_view id) const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  std::string prefix = AccountIndexKey(kind, id, "");
  std::vector<std::string> out;
  CA_TRY_STATUS(txn.ForEach(dbs_.by_account, prefix, [&](std::string_view k, std::string_view) {
    out.emplace_back(k.substr(prefix.size()));
    return true;
  }));
  return out;
}

Result<std::vector<CertRecord>> CaStore::RevokedCerts() const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  std::vector<CertRecord> out;
  Status inner = Ok();
  CA_TRY_STATUS(txn.ForEach(dbs_.revoked, "", [&](std::string_view k, std::string_view) {
    auto rec = GetCert(txn, dbs_, k);
    if (!rec || !*rec) {
      inner = rec ? Fail(ErrorCode::kCorrupt, "revoked index names unknown serial " + std::string(k))
                  : std::unexpected(rec.error());
      return false;
    }
    out.push_back(std::move(**rec));
    return true;
  }));
  CA_TRY_STATUS(inner);
  return out;
}

Status CaStore::ForEachIssued(const std::function<void(const CertRecord&)>& fn) const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  Status inner = Ok();
  CA_TRY_STATUS(txn.ForEach(dbs_.certs, "", [&](std::string_view k, std::string_view v) {
    auto rec = CertRecordFromJson(k, v);
    if (!rec) {
      inner = std::unexpected(rec.error());
      return false;
    }
    if (rec->state == CertState::kIssued) fn(*rec);
    return true;
  }));
  return inner;
}

Result<uint64_t> CaStore::AppliedMassRevocationSeq() const {
  auto txn = CA_TRY(kv::Txn::BeginRead(env_));
  auto value = CA_TRY(txn.Get(dbs_.meta, "mass_revocation_seq"));
  if (!value) return uint64_t{0};
  try {
    return static_cast<uint64_t>(std::stoull(std::string(*value)));
  } catch (const std::exception&) {
    return Fail(ErrorCode::kCorrupt, "CA store meta mass_revocation_seq");
  }
}

}  // namespace ca::engine
