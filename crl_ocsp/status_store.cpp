#include "crl_ocsp/status_store.h"

#include <charconv>
#include <cstring>

#include "common/encoding.h"

namespace ca::crl_ocsp {

namespace {

// Fixed-size record headers; the DER follows. Written and read with memcpy (LMDB values are not
// aligned), host byte order: a store is written and read on one machine.
struct ResponseHeader {
  int64_t this_update;
  int64_t next_update;
  int64_t cert_not_after;
  uint8_t status;
  uint8_t reason;
  uint8_t reserved[6];
  uint8_t body_sha256[32];
};
static_assert(sizeof(ResponseHeader) == 64);

struct CrlHeader {
  uint64_t number;
  int64_t this_update;
  int64_t next_update;
  uint64_t entries;
  uint8_t body_sha256[32];
};
static_assert(sizeof(CrlHeader) == 64);

int64_t Secs(Time t) {
  return t.time_since_epoch().count();
}
Time FromSecs(int64_t s) {
  return Time(std::chrono::seconds(s));
}

std::string ResponseKey(std::string_view issuer, std::span<const uint8_t> serial) {
  std::string key(issuer);
  key.push_back('\0');
  key.append(AsString(serial));
  return key;
}

std::string CrlKey(std::string_view issuer, CrlScope scope) {
  std::string key(issuer);
  if (scope.shard) {
    key.push_back('\0');
    for (int shift = 24; shift >= 0; shift -= 8)
      key.push_back(static_cast<char>((*scope.shard >> shift) & 0xff));
  }
  return key;
}

Result<StoredCrl> DecodeCrl(std::string_view v) {
  if (v.size() <= sizeof(CrlHeader))
    return Fail(ErrorCode::kCorrupt, "CRL record shorter than its header");
  CrlHeader h;
  std::memcpy(&h, v.data(), sizeof(h));
  const auto* base = reinterpret_cast<const uint8_t*>(v.data());
  return StoredCrl{CrlInfo{h.number, FromSecs(h.this_update), FromSecs(h.next_update),
                           static_cast<size_t>(h.entries)},
                   std::span<const uint8_t, 32>(base + offsetof(CrlHeader, body_sha256), 32),
                   std::string_view(reinterpret_cast<const char*>(base) + sizeof(CrlHeader),
                                    v.size() - sizeof(CrlHeader))};
}

std::string IndexKey(const IssuerHashes& h) {
  std::string key(1, static_cast<char>(h.hash));
  key.append(AsString(h.name_hash));
  key.append(AsString(h.key_hash));
  return key;
}

std::string HeaderPlusBody(const void* header, size_t header_size, std::span<const uint8_t> der) {
  std::string value(header_size + der.size(), '\0');
  std::memcpy(value.data(), header, header_size);
  std::memcpy(value.data() + header_size, der.data(), der.size());
  return value;
}

Result<StoredResponse> DecodeResponse(std::string_view value) {
  if (value.size() <= sizeof(ResponseHeader)) {
    return Fail(ErrorCode::kCorrupt, "OCSP record shorter than its header");
  }
  ResponseHeader h;
  std::memcpy(&h, value.data(), sizeof(h));
  StoredResponse r{FromSecs(h.this_update),
                   FromSecs(h.next_update),
                   FromSecs(h.cert_not_after),
                   h.status == 1 ? CertStatus::kRevoked : CertStatus::kGood,
                   static_cast<pki::RevocationReason>(h.reason),
                   std::span<const uint8_t, 32>(reinterpret_cast<const uint8_t*>(value.data()) +
                                                    offsetof(ResponseHeader, body_sha256),
                                                32),
                   value.substr(sizeof(ResponseHeader))};
  return r;
}

Result<uint64_t> ParseNumber(std::string_view text) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return Fail(ErrorCode::kCorrupt, "stored CRL number is not a number");
  }
  return n;
}

Result<StoreDbs> OpenDbs(kv::Env& env, bool create) {
  StoreDbs d;
  d.issuers = CA_TRY(env.OpenTable("issuers", create));
  d.issuer_index = CA_TRY(env.OpenTable("issuer_index", create));
  d.ocsp = CA_TRY(env.OpenTable("ocsp", create));
  d.crls = CA_TRY(env.OpenTable("crls", create));
  d.crl_numbers = CA_TRY(env.OpenTable("crl_numbers", create));
  return d;
}

Result<ossl::X509Ptr> IssuerIn(const kv::Txn& txn, const StoreDbs& dbs, std::string_view name) {
  auto der = CA_TRY(txn.Get(dbs.issuers, name));
  if (!der)
    return Fail(ErrorCode::kNotFound, "issuer '" + std::string(name) + "' is not registered");
  auto cert = ossl::CertFromDer(AsBytes(*der));
  if (!cert)
    return Fail(ErrorCode::kCorrupt, "stored issuer '" + std::string(name) + "' is unreadable");
  return std::move(*cert);
}

}  // namespace

Result<std::optional<std::string_view>> FindIssuerName(const kv::Txn& txn, const StoreDbs& dbs,
                                                       CertIdHash hash,
                                                       std::span<const uint8_t> name_hash,
                                                       std::span<const uint8_t> key_hash) {
  char buf[1 + 2 * EVP_MAX_MD_SIZE];
  if (name_hash.size() > EVP_MAX_MD_SIZE || key_hash.size() > EVP_MAX_MD_SIZE) {
    return std::optional<std::string_view>();
  }
  buf[0] = static_cast<char>(hash);
  std::memcpy(buf + 1, name_hash.data(), name_hash.size());
  std::memcpy(buf + 1 + name_hash.size(), key_hash.data(), key_hash.size());
  return txn.Get(dbs.issuer_index, std::string_view(buf, 1 + name_hash.size() + key_hash.size()));
}

Result<std::optional<StoredResponse>> FindResponse(const kv::Txn& txn, const StoreDbs& dbs,
                                                   std::string_view issuer,
                                                   std::span<const uint8_t> serial) {
  char buf[128];
  if (issuer.size() + 1 + serial.size() > sizeof(buf)) return std::optional<StoredResponse>();
  std::memcpy(buf, issuer.data(), issuer.size());
  buf[issuer.size()] = '\0';
  std::memcpy(buf + issuer.size() + 1, serial.data(), serial.size());
  auto v = CA_TRY(txn.Get(dbs.ocsp, std::string_view(buf, issuer.size() + 1 + serial.size())));
  if (!v) return std::optional<StoredResponse>();
  return std::optional<StoredResponse>(CA_TRY(DecodeResponse(*v)));
}

Result<std::optional<StoredCrl>> FindCrl(const kv::Txn& txn, const StoreDbs& dbs,
                                         std::string_view issuer, CrlScope scope) {
  std::string key = CrlKey(issuer, scope);
  auto v = CA_TRY(txn.Get(dbs.crls, key));
  if (!v) return std::optional<StoredCrl>();
  return std::optional<StoredCrl>(CA_TRY(DecodeCrl(*v)));
}

Status ForEachCrl(const kv::Txn& txn, const StoreDbs& dbs, std::string_view issuer,
                  const std::function<bool(CrlScope, const StoredCrl&)>& fn) {
  if (auto full = CA_TRY(FindCrl(txn, dbs, issuer)); full && !fn(CrlScope::Full(), *full))
    return Ok();
  std::string prefix(issuer);
  prefix.push_back('\0');
  Status failed = Ok();
  CA_TRY_STATUS(txn.ForEach(dbs.crls, prefix, [&](std::string_view key, std::string_view value) {
    if (key.size() != prefix.size() + 4) {
      failed = Fail(ErrorCode::kCorrupt, "CRL shard key of bad length");
      return false;
    }
    uint32_t shard = 0;
    for (char c : key.substr(prefix.size())) shard = (shard << 8) | static_cast<uint8_t>(c);
    auto crl = DecodeCrl(value);
    if (!crl) failed = std::unexpected(crl.error());
    return crl && fn(CrlScope::Shard(shard), *crl);
  }));
  return failed;
}

Status ForEachResponse(
    const kv::Txn& txn, const StoreDbs& dbs, std::string_view issuer,
    const std::function<bool(std::span<const uint8_t> serial, const StoredResponse&)>& fn) {
  std::string prefix(issuer);
  prefix.push_back('\0');
  Status failed = Ok();
  CA_TRY_STATUS(txn.ForEach(dbs.ocsp, prefix, [&](std::string_view key, std::string_view value) {
    auto response = DecodeResponse(value);
    if (!response) failed = std::unexpected(response.error());
    return response && fn(AsBytes(key.substr(prefix.size())), *response);
  }));
  return failed;
}

Status CheckIssuerName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64 && name.front() != '.';
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    return Fail(ErrorCode::kInvalidArgument,
                "issuer name must be 1-64 characters of [A-Za-z0-9._-] not starting with '.'");
  }
  return Ok();
}

Result<StatusStore> StatusStore::Open(const StoreOptions& options) {
  kv::EnvOptions eo;
  eo.location = options.path;
  eo.map_size = options.map_size;
  eo.max_tables = 8;
  eo.create = true;
  auto env = std::make_unique<kv::Env>(CA_TRY(kv::Env::Open(eo)));
  StoreDbs dbs = CA_TRY(OpenDbs(*env, true));
  return StatusStore(std::move(env), dbs);
}

StatusStore::StatusStore(std::unique_ptr<kv::Env> env, StoreDbs dbs)
    : env_(std::move(env)),
      dbs_(dbs),
      issuer_cache_(std::make_unique<IssuerCache>()),
      committer_(std::make_unique<kv::GroupCommitter>(*env_)) {}

Status StatusStore::RegisterIssuer(std::string_view name, const X509* issuer) {
  CA_TRY_STATUS(CheckIssuerName(name));
  if (issuer == nullptr) return Fail(ErrorCode::kInvalidArgument, "issuer certificate required");
  Bytes der = CA_TRY(ossl::CertToDer(issuer));
  // The engine, the status server and the exporter register the same issuers as they start: on
  // PostgreSQL one of them may lose a serialization race, and reruns.
  return kv::RetryOnConflict([&] { return RegisterIssuerOnce(name, issuer, der); });
}

Status StatusStore::RegisterIssuerOnce(std::string_view name, const X509* issuer,
                                       const Bytes& der) {
  kv::Txn txn = CA_TRY(kv::Txn::BeginWrite(*env_));
  auto existing = CA_TRY(txn.Get(dbs_.issuers, name));
  if (existing) {
    if (*existing == AsString(der)) return Ok();
    return Fail(ErrorCode::kAlreadyExists,
                "issuer name '" + std::string(name) + "' is registered with another certificate");
  }
  CA_TRY_STATUS(txn.Put(dbs_.issuers, name, AsString(der)));
  for (CertIdHash hash : {CertIdHash::kSha1, CertIdHash::kSha256}) {
    IssuerHashes h = CA_TRY(ComputeIssuerHashes(issuer, hash));
    auto taken = CA_TRY(txn.Get(dbs_.issuer_index, IndexKey(h)));
    if (taken) {
      return Fail(ErrorCode::kAlreadyExists,
                  "this issuer is already registered as '" + std::string(*taken) + "'");
    }
    CA_TRY_STATUS(txn.Put(dbs_.issuer_index, IndexKey(h), name));
  }
  return txn.Commit();
}

Result<ossl::X509Ptr> StatusStore::Issuer(std::string_view name) const {
  kv::Txn txn = CA_TRY(kv::Txn::BeginRead(*env_));
  return IssuerIn(txn, dbs_, name);
}

Result<StatusStore::IssuerEntry*> StatusStore::CachedIssuer(std::string_view name) {
  std::lock_guard lock(issuer_cache_->mu);
  auto& entries = issuer_cache_->entries;
  if (auto it = entries.find(name); it != entries.end()) return it->second.get();
  auto entry = std::make_unique<IssuerEntry>();
  {
    auto txn = CA_TRY(kv::Txn::BeginRead(*env_));
    entry->cert = CA_TRY(IssuerIn(txn, dbs_, name));
  }
  entry->inspector = CA_TRY(OcspResponseInspector::For(entry->cert.get()));
  IssuerEntry* out = entry.get();
  entries.emplace(std::string(name), std::move(entry));
  return out;
}

Status StatusStore::PutOcspResponses(std::string_view issuer,
                                     std::span<const OcspPublication> batch) {
  // Each response is checked (parsed, signer and CertID verified) before it is queued; concurrent
  // publications (the engine's issuing threads) then share one durable commit.
  IssuerEntry* entry = CA_TRY(CachedIssuer(issuer));
  std::vector<OcspResponseInfo> inspected;
  inspected.reserve(batch.size());
  {
    std::lock_guard lock(entry->inspect_mu);
    for (size_t i = 0; i < batch.size(); ++i) {
      auto info = entry->inspector->Inspect(batch[i].der);
      if (!info) {
        return Fail(info.error().code,
                    "response " + std::to_string(i) + " of the batch: " + info.error().message);
      }
      inspected.push_back(std::move(*info));
    }
  }
  return committer_->Run(
      [&](kv::Txn& txn) { return PutOcspResponsesIn(txn, issuer, batch, inspected); });
}

Status StatusStore::PutOcspResponsesIn(kv::Txn& txn, std::string_view issuer,
                                       std::span<const OcspPublication> batch,
                                       std::span<const OcspResponseInfo> inspected) {
  for (size_t i = 0; i < batch.size(); ++i) {
    const OcspResponseInfo* info = &inspected[i];
    auto current = CA_TRY(FindResponse(txn, dbs_, issuer, info->serial.magnitude));
    if (current && current->this_update > info->this_update) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "response for serial " + info->serial.Hex() + " is older than the stored one");
    }
    ResponseHeader h{};
    h.this_update = Secs(info->this_update);
    h.next_update = Secs(info->next_update);
    h.cert_not_after = Secs(batch[i].cert_not_after);
    h.status = info->status == CertStatus::kRevoked ? 1 : 0;
    h.reason = static_cast<uint8_t>(info->reason);
    Bytes digest = Sha256(batch[i].der);
    std::memcpy(h.body_sha256, digest.data(), sizeof(h.body_sha256));
    CA_TRY_STATUS(txn.Put(dbs_.ocsp, ResponseKey(issuer, info->serial.magnitude),
                          HeaderPlusBody(&h, sizeof(h), batch[i].der)));
  }
  return Ok();
}

Result<size_t> StatusStore::DeleteOcspResponses(std::string_view issuer,
                                                std::span<const pki::Serial> serials) {
  kv::Txn txn = CA_TRY(kv::Txn::BeginWrite(*env_));
  size_t deleted = 0;
  for (const pki::Serial& s : serials) {
    if (CA_TRY(txn.Delete(dbs_.ocsp, ResponseKey(issuer, s.magnitude)))) ++deleted;
  }
  CA_TRY_STATUS(txn.Commit());
  return deleted;
}

Result<bool> StatusStore::RetireCrlShard(std::string_view issuer, uint32_t shard) {
  kv::Txn txn = CA_TRY(kv::Txn::BeginWrite(*env_));
  bool deleted = CA_TRY(txn.Delete(dbs_.crls, CrlKey(issuer, CrlScope::Shard(shard))));
  CA_TRY_STATUS(txn.Commit());
  return deleted;
}

Result<uint64_t> StatusStore::ReserveCrlNumber(std::string_view issuer) {
  kv::Txn txn = CA_TRY(kv::Txn::BeginWrite(*env_));
  CA_TRY(IssuerIn(txn, dbs_, issuer));
  auto last = CA_TRY(txn.Get(dbs_.crl_numbers, issuer));
  uint64_t next = (last ? CA_TRY(ParseNumber(*last)) : 0) + 1;
  CA_TRY_STATUS(txn.Put(dbs_.crl_numbers, issuer, std::to_string(next)));
  CA_TRY_STATUS(txn.Commit());
  return next;
}

Result<uint64_t> StatusStore::LastReservedCrlNumber(std::string_view issuer) const {
  kv::Txn txn = CA_TRY(kv::Txn::BeginRead(*env_));
  auto last = CA_TRY(txn.Get(dbs_.crl_numbers, issuer));
  return last ? ParseNumber(*last) : Result<uint64_t>(0);
}

Result<CrlInfo> StatusStore::PublishCrl(std::string_view issuer, std::span<const uint8_t> der,
                                        const NotAfterBySerial& not_after, CrlScope scope,
                                        std::string_view shard_url) {
  return Publish(issuer, der, not_after, CrlNumbering::kReserved, scope, shard_url);
}

Result<CrlInfo> StatusStore::ImportCrl(std::string_view issuer, std::span<const uint8_t> der,
                                       const NotAfterBySerial& not_after) {
  return Publish(issuer, der, not_after, CrlNumbering::kByItsSigner, CrlScope::Full());
}

Result<CrlInfo> StatusStore::Publish(std::string_view issuer, std::span<const uint8_t> der,
                                     const NotAfterBySerial& not_after, CrlNumbering numbering,
                                     CrlScope scope, std::string_view shard_url) {
  kv::Txn txn = CA_TRY(kv::Txn::BeginWrite(*env_));
  ossl::X509Ptr cert = CA_TRY(IssuerIn(txn, dbs_, issuer));
  auto current = CA_TRY(FindCrl(txn, dbs_, issuer, scope));
  std::optional<std::span<const uint8_t>> current_der;
  if (current) current_der = AsBytes(current->der);
  CrlInfo info = CA_TRY(CheckCrlPublish(der, current_der, cert.get(), not_after, scope, shard_url));
  auto reserved = CA_TRY(txn.Get(dbs_.crl_numbers, issuer));
  uint64_t last_reserved = reserved ? CA_TRY(ParseNumber(*reserved)) : 0;
  if (numbering == CrlNumbering::kReserved && info.number > last_reserved) {
    return Fail(ErrorCode::kFailedPrecondition,
                "CRL number " + std::to_string(info.number) + " was never reserved");
  }
  if (numbering == CrlNumbering::kByItsSigner && info.number > last_reserved) {
    // A later ReserveCrlNumber for this issuer must never hand out this number again.
    CA_TRY_STATUS(txn.Put(dbs_.crl_numbers, issuer, std::to_string(info.number)));
  }
  CrlHeader h{info.number, Secs(info.this_update), Secs(info.next_update), info.entries, {}};
  Bytes digest = Sha256(der);
  std::memcpy(h.body_sha256, digest.data(), sizeof(h.body_sha256));
  CA_TRY_STATUS(txn.Put(dbs_.crls, CrlKey(issuer, scope), HeaderPlusBody(&h, sizeof(h), der)));
  CA_TRY_STATUS(txn.Commit());
  return info;
}

Result<std::optional<Bytes>> StatusStore::CurrentCrl(std::string_view issuer,
                                                     CrlScope scope) const {
  kv::Txn txn = CA_TRY(kv::Txn::BeginRead(*env_));
  auto crl = CA_TRY(FindCrl(txn, dbs_, issuer, scope));
  if (!crl) return std::optional<Bytes>();
  auto b = AsBytes(crl->der);
  return std::optional<Bytes>(Bytes(b.begin(), b.end()));
}

Result<std::optional<Bytes>> StatusStore::Response(std::string_view issuer,
                                                   const pki::Serial& serial) const {
  kv::Txn txn = CA_TRY(kv::Txn::BeginRead(*env_));
  auto r = CA_TRY(FindResponse(txn, dbs_, issuer, serial.magnitude));
  if (!r) return std::optional<Bytes>();
  auto b = AsBytes(r->der);
  return std::optional<Bytes>(Bytes(b.begin(), b.end()));
}

Result<StatusReader> StatusReader::Open(const std::string& path) {
  kv::EnvOptions eo;
  eo.location = path;
  eo.max_tables = 8;
  eo.read_only = true;
  // Address space only (the file is mapped read-only): larger than any writer's map, so a writer
  // that grows its map never makes this reader's transactions fail with MDB_MAP_RESIZED.
  eo.map_size = size_t{1} << 40;
  kv::Env env = CA_TRY(kv::Env::Open(eo));
  auto dbs = OpenDbs(env, false);
  if (!dbs) {
    return Fail(
        ErrorCode::kFailedPrecondition,
        "status store " + path + " has not been initialised by a writer: " + dbs.error().message);
  }
  return StatusReader(std::move(env), *dbs);
}

}  // namespace ca::crl_ocsp
