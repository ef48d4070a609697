#include "engine/ca_store.h"

#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "common/log.h"

namespace ca::engine {

using nlohmann::json;

std::string CertRecordToJson(const CertRecord& r) {
  return json{{"state", r.state == CertState::kIssued ? "issued" : "reserved"},
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
              {"revoked_by", r.revoked_by}}
      .dump();
}

Result<CertRecord> CertRecordFromJson(std::string_view serial_hex, std::string_view text) {
  try {
    json j = json::parse(text);
    CertRecord r;
    r.serial_hex = std::string(serial_hex);
    std::string state = j.at("state").get<std::string>();
    if (state != "issued" && state != "reserved") throw std::runtime_error("bad state");
    r.state = state == "issued" ? CertState::kIssued : CertState::kReserved;
    auto der = Base64Decode(j.at("der").get<std::string>());
    if (!der) throw std::runtime_error("bad der");
    r.der = std::move(*der);
    r.request_id = j.at("request_id").get<std::string>();
    r.order_id = j.at("order_id").get<std::string>();
    r.acme_account_id = j.at("acme_account_id").get<std::string>();
    r.external_account_kid = j.at("external_account_kid").get<std::string>();
    r.profile = j.at("profile").get<std::string>();
    r.names = j.at("names").get<std::vector<std::string>>();
    r.key_fingerprint = j.at("key_fingerprint").get<std::string>();
    r.not_before = j.at("not_before").get<int64_t>();
    r.not_after = j.at("not_after").get<int64_t>();
    r.reserved_at = j.at("reserved_at").get<int64_t>();
    r.issued_at = j.at("issued_at").get<int64_t>();
    r.revoked = j.at("revoked").get<bool>();
    r.revoked_at = j.at("revoked_at").get<int64_t>();
    r.reason = j.at("reason").get<int>();
    r.revoked_by = j.at("revoked_by").get<std::string>();
    return r;
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kCorrupt, "CA store record " + std::string(serial_hex) + ": " + e.what());
  }
}

std::string AccountIndexKey(char kind, std::string_view id, std::string_view serial_hex) {
  std::string key(1, kind);
  key += '\n';
  key += id;
  key += '\n';
  key += serial_hex;
  return key;
}

Result<std::optional<CertRecord>> GetCert(const lmdb::Txn& txn, const StoreDbs& dbs, std::string_view serial_hex) {
  auto value = CA_TRY(txn.Get(dbs.certs, serial_hex));
  if (!value) return std::optional<CertRecord>();
  return std::optional<CertRecord>(CA_TRY(CertRecordFromJson(serial_hex, *value)));
}

Status PutCert(lmdb::Txn& txn, const StoreDbs& dbs, const CertRecord& record) {
  return txn.Put(dbs.certs, record.serial_hex, CertRecordToJson(record));
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<CaStore>> CaStore::Open(const std::string& dir) {
  lmdb::EnvOptions options;
  options.path = dir;
  options.create = true;
  lmdb::Env env = CA_TRY(lmdb::Env::Open(options));
  StoreDbs dbs;
  dbs.certs = CA_TRY(env.OpenDb("certs", true));
  dbs.pending = CA_TRY(env.OpenDb("pending", true));
  dbs.requests = CA_TRY(env.OpenDb("requests", true));
  dbs.key_fps = CA_TRY(env.OpenDb("key_fps", true));
  dbs.by_account = CA_TRY(env.OpenDb("by_account", true));
  dbs.revoked = CA_TRY(env.OpenDb("revoked", true));
  dbs.meta = CA_TRY(env.OpenDb("meta", true));
  std::unique_ptr<CaStore> store(new CaStore(std::move(env), dbs));
  store->committer_ = std::make_unique<lmdb::GroupCommitter>(store->env_);
  return store;
}

Status CaStore::Write(const WriteOp& op) {
  Status refusal;
  Status committed = committer_->Run([&](lmdb::Txn& txn) -> Status {
    refusal = Ok();
    Status s = op(txn, dbs_);
    if (!s) {
      switch (s.error().code) {
        case ErrorCode::kAlreadyExists:
        case ErrorCode::kPermissionDenied:
        case ErrorCode::kFailedPrecondition:
        case ErrorCode::kNotFound:
          refusal = std::move(s);  // nothing written (see WriteOp)
          return Ok();
        default:
          return s;
      }
    }
    return s;
  });
  CA_TRY_STATUS(committed);
  return refusal;
}

Result<std::optional<CertRecord>> CaStore::FindCert(std::string_view serial_hex) const {
  auto txn = CA_TRY(lmdb::Txn::BeginRead(env_));
  return GetCert(txn, dbs_, serial_hex);
}

Result<std::optional<std::pair<std::string, std::string>>> CaStore::FindRequest(std::string_view request_id) const {
  auto txn = CA_TRY(lmdb::Txn::BeginRead(env_));
  auto value = CA_TRY(txn.Get(dbs_.requests, request_id));
  using Out = std::optional<std::pair<std::string, std::string>>;
  if (!value) return Out();
  json j = json::parse(*value, nullptr, false);
  if (!j.is_object() || !j.contains("hash") || !j.contains("serial") || !j["hash"].is_string() ||
      !j["serial"].is_string()) {
    return Fail(ErrorCode::kCorrupt, "CA store request record " + std::string(request_id));
  }
  return Out(std::pair{j["hash"].get<std::string>(), j["serial"].get<std::string>()});
}

Result<bool> CaStore::KnownKey(std::string_view fingerprint_hex) const {
  auto txn = CA_TRY(lmdb::Txn::BeginRead(env_));
  auto value = CA_TRY(txn.Get(dbs_.key_fps, fingerprint_hex));
  return value.has_value();
}

Result<std::vector<std::string>> CaStore::PendingSerials() const {
  auto txn = CA_TRY(lmdb::Txn::BeginRead(env_));
  std::vector<std::string> out;
  CA_TRY_STATUS(txn.ForEach(dbs_.pending, "", [&](std::string_view k, std::string_view) {
    out.emplace_back(k);
    return true;
  }));
  return out;
}

Result<std::vector<std::string>> CaStore::SerialsOf(char kind, std::string_view id) const {
  auto txn = CA_TRY(lmdb::Txn::BeginRead(env_));
  std::string prefix = AccountIndexKey(kind, id, "");
  std::vector<std::string> out;
  CA_TRY_STATUS(txn.ForEach(dbs_.by_account, prefix, [&](std::string_view k, std::string_view) {
    out.emplace_back(k.substr(prefix.size()));
    return true;
  }));
  return out;
}

Result<std::vector<CertRecord>> CaStore::RevokedCerts() const {
  auto txn = CA_TRY(lmdb::Txn::BeginRead(env_));
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
  auto txn = CA_TRY(lmdb::Txn::BeginRead(env_));
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
  auto txn = CA_TRY(lmdb::Txn::BeginRead(env_));
  auto value = CA_TRY(txn.Get(dbs_.meta, "mass_revocation_seq"));
  if (!value) return uint64_t{0};
  try {
    return static_cast<uint64_t>(std::stoull(std::string(*value)));
  } catch (const std::exception&) {
    return Fail(ErrorCode::kCorrupt, "CA store meta mass_revocation_seq");
  }
}

}  // namespace ca::engine
