#include "gateway/store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "common/encoding.h"
#include "common/log.h"
#include "gateway/record_cache.h"
#include "gateway/record_text.h"
#include "pki/json_fields.h"

namespace ca::gateway {

namespace {

using nlohmann::json;
using pki::JsonFields;

// Keys "o/<order id>" and "c/<challenge id>"; kIndexBuilt marks a store whose index is complete.
constexpr std::string_view kIndexBuilt = "!built";
std::string ProcessingKey(char kind, const std::string& id) { return std::string(1, kind) + "/" + id; }

std::string Padded(int64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%016lld", static_cast<long long>(v < 0 ? 0 : v));
  return buf;
}

Result<json> ParseRecord(std::string_view text, std::string_view what) {
  auto parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return Fail(ErrorCode::kCorrupt, std::string(what) + " record is not a JSON object");
  return parsed;
}

// Records written by older versions may lack fields added since (absent reads as the default) or
// carry fields dropped since (the certificate's old "revoked" flag), so unknown fields are kept.
Result<std::string> Text(JsonFields& f, std::string_view field) {
  return CA_TRY(f.OptionalString(field)).value_or("");
}
Result<int64_t> Number(JsonFields& f, std::string_view field) {
  return CA_TRY(f.OptionalInt(field)).value_or(0);
}
Result<std::vector<std::string>> Texts(JsonFields& f, std::string_view field) {
  return CA_TRY(f.OptionalStringList(field)).value_or(std::vector<std::string>());
}
// The stored "error" problem document: an object, or null when the resource has none.
Result<json> Problem(JsonFields& f) {
  auto value = f.Value("error");
  if (!value || (*value)->is_null()) return json();
  if (!(*value)->is_object()) return f.Bad("error", "expected an object or null");
  return **value;
}
template <class S>
Result<S> StatusOf(JsonFields& f, std::optional<S> (*parse)(std::string_view)) {
  std::string text = CA_TRY(f.String("status"));
  std::optional<S> status = parse(text);
  if (!status) return f.Bad("status", "unknown status '" + text + "'");
  return *status;
}

Result<AccountRecord> AccountFrom(const json& j) {
  auto f = CA_TRY(JsonFields::Of(j, "account", ErrorCode::kCorrupt));
  AccountRecord r;
  r.id = CA_TRY(Text(f, "id"));
  r.external_account_kid = CA_TRY(Text(f, "external_account_kid"));
  r.profile = CA_TRY(Text(f, "profile"));
  r.status = CA_TRY(StatusOf(f, ParseAccountStatus));
  r.created_at = CA_TRY(Number(f, "created_at"));
  r.contact = CA_TRY(Texts(f, "contact"));
  r.jwk_thumbprint = CA_TRY(Text(f, "jwk_thumbprint"));
  return r;
}
Result<OrderRecord> OrderFrom(const json& j) {
  auto f = CA_TRY(JsonFields::Of(j, "order", ErrorCode::kCorrupt));
  OrderRecord r;
  r.id = CA_TRY(Text(f, "id"));
  r.account_id = CA_TRY(Text(f, "account_id"));
  r.external_account_kid = CA_TRY(Text(f, "external_account_kid"));
  r.status = CA_TRY(StatusOf(f, ParseOrderStatus));
  r.created_at = CA_TRY(Number(f, "created_at"));
  r.expires = CA_TRY(Number(f, "expires"));
  r.names = CA_TRY(Texts(f, "names"));
  r.authz_ids = CA_TRY(Texts(f, "authz_ids"));
  r.profile = CA_TRY(Text(f, "profile"));
  r.error = CA_TRY(Problem(f));
  r.serial_hex = CA_TRY(Text(f, "serial_hex"));
  r.request_id = CA_TRY(Text(f, "request_id"));
  r.finalize_csr = CA_TRY(Text(f, "finalize_csr"));
  r.policy_version = static_cast<uint64_t>(CA_TRY(Number(f, "policy_version")));
  return r;
}
Result<AuthzRecord> AuthzFrom(const json& j) {
  auto f = CA_TRY(JsonFields::Of(j, "authorization", ErrorCode::kCorrupt));
  AuthzRecord r;
  r.id = CA_TRY(Text(f, "id"));
  r.account_id = CA_TRY(Text(f, "account_id"));
  r.order_id = CA_TRY(Text(f, "order_id"));
  r.name = CA_TRY(Text(f, "name"));
  r.wildcard = CA_TRY(f.OptionalBool("wildcard")).value_or(false);
  r.status = CA_TRY(StatusOf(f, ParseAuthzStatus));
  r.expires = CA_TRY(Number(f, "expires"));
  r.challenge_ids = CA_TRY(Texts(f, "challenge_ids"));
  r.validated_at = CA_TRY(Number(f, "validated_at"));
  r.caa_checked_at = CA_TRY(Number(f, "caa_checked_at"));
  return r;
}
Result<ChallengeRecord> ChallengeFrom(const json& j) {
  auto f = CA_TRY(JsonFields::Of(j, "challenge", ErrorCode::kCorrupt));
  ChallengeRecord r;
  r.id = CA_TRY(Text(f, "id"));
  r.authz_id = CA_TRY(Text(f, "authz_id"));
  r.account_id = CA_TRY(Text(f, "account_id"));
  r.type = CA_TRY(Text(f, "type"));
  r.token = CA_TRY(Text(f, "token"));
  r.status = CA_TRY(StatusOf(f, ParseChallengeStatus));
  r.validated_at = CA_TRY(Number(f, "validated_at"));
  r.error = CA_TRY(Problem(f));
  r.attempts = static_cast<int>(CA_TRY(Number(f, "attempts")));
  return r;
}
Result<CertRecord> CertFrom(const json& j) {
  auto f = CA_TRY(JsonFields::Of(j, "certificate", ErrorCode::kCorrupt));
  CertRecord r;
  r.serial_hex = CA_TRY(Text(f, "serial_hex"));
  r.account_id = CA_TRY(Text(f, "account_id"));
  r.external_account_kid = CA_TRY(Text(f, "external_account_kid"));
  r.order_id = CA_TRY(Text(f, "order_id"));
  r.chain_pem = CA_TRY(Text(f, "chain_pem"));
  r.not_before = CA_TRY(Number(f, "not_before"));
  r.not_after = CA_TRY(Number(f, "not_after"));
  return r;
}
Result<json> JsonFrom(const json& j) {
  return j;
}

}  // namespace

json ToJson(const AccountRecord& r) {
  return {{"id", r.id},           {"external_account_kid", r.external_account_kid},
          {"profile", r.profile}, {"status", r.status},
          {"created_at", r.created_at}, {"contact", r.contact},
          {"jwk_thumbprint", r.jwk_thumbprint}};
}
json ToJson(const OrderRecord& r) {
  return {{"id", r.id},         {"account_id", r.account_id}, {"external_account_kid", r.external_account_kid},
          {"status", r.status}, {"created_at", r.created_at}, {"expires", r.expires},
          {"names", r.names},   {"authz_ids", r.authz_ids},   {"profile", r.profile},
          {"error", r.error},   {"serial_hex", r.serial_hex}, {"request_id", r.request_id},
          {"finalize_csr", r.finalize_csr}, {"policy_version", static_cast<int64_t>(r.policy_version)}};
}
json ToJson(const AuthzRecord& r) {
  return {{"id", r.id},         {"account_id", r.account_id},     {"order_id", r.order_id},
          {"name", r.name},     {"wildcard", r.wildcard},         {"status", r.status},
          {"expires", r.expires}, {"challenge_ids", r.challenge_ids}, {"validated_at", r.validated_at},
          {"caa_checked_at", r.caa_checked_at}};
}
json ToJson(const ChallengeRecord& r) {
  return {{"id", r.id},         {"authz_id", r.authz_id},         {"account_id", r.account_id},
          {"type", r.type},     {"token", r.token},               {"status", r.status},
          {"validated_at", r.validated_at}, {"error", r.error},   {"attempts", r.attempts}};
}
json ToJson(const CertRecord& r) {
  return {{"serial_hex", r.serial_hex}, {"account_id", r.account_id},
          {"external_account_kid", r.external_account_kid}, {"order_id", r.order_id},
          {"chain_pem", r.chain_pem},   {"not_before", r.not_before},
          {"not_after", r.not_after}};
}

namespace {

std::string ExpiryKey(int64_t expires, const std::string& order_id) {
  return Padded(expires) + "/" + order_id;
}
std::string AccountOrderKey(const OrderRecord& r) {
  return r.account_id + "/" + Padded(r.created_at) + "/" + r.id;
}

// Stores made before the expiry index: index every order once, at the first open.
Status BackfillExpiryIndex(const kv::Env& env, kv::Table orders, kv::Table order_expiry) {
  auto txn = CA_TRY(kv::Txn::BeginWrite(env));
  bool indexed = false;
  CA_TRY_STATUS(txn.ForEach(order_expiry, "", [&](std::string_view, std::string_view) {
    indexed = true;
    return false;
  }));
  if (indexed) return Ok();
  std::vector<std::pair<std::string, int64_t>> entries;
  CA_TRY_STATUS(txn.ForEach(orders, "", [&](std::string_view key, std::string_view value) {
    auto j = json::parse(value, nullptr, false);
    int64_t expires = j.is_object() && j.contains("expires") && j["expires"].is_number_integer()
                          ? j["expires"].get<int64_t>()
                          : 0;
    entries.emplace_back(std::string(key), expires);
    return true;
  }));
  if (entries.empty()) return Ok();
  for (const auto& [id, expires] : entries) {
    CA_TRY_STATUS(txn.Put(order_expiry, ExpiryKey(expires, id), ""));
  }
  log::Info("store_expiry_index_built", {{"orders", entries.size()}});
  return txn.Commit();
}

}  // namespace

Result<AcmeStore> AcmeStore::Open(const std::string& dir, const StoreOptions& store_options) {
  kv::EnvOptions options;
  options.location = dir;
  options.create = true;
  options.map_size = store_options.map_size;
  auto env = std::make_unique<kv::Env>(CA_TRY(kv::Env::Open(options)));
  Dbs d{};
  d.accounts = CA_TRY(env->OpenTable("accounts", true));
  d.account_keys = CA_TRY(env->OpenTable("account_keys", true));
  d.key_index = CA_TRY(env->OpenTable("key_index", true));
  d.ext_accounts = CA_TRY(env->OpenTable("external_account_members", true));
  d.orders = CA_TRY(env->OpenTable("orders", true));
  d.account_orders = CA_TRY(env->OpenTable("account_orders", true));
  d.authzs = CA_TRY(env->OpenTable("authorizations", true));
  d.challenges = CA_TRY(env->OpenTable("challenges", true));
  d.certs = CA_TRY(env->OpenTable("certificates", true));
  d.failed_validations = CA_TRY(env->OpenTable("failed_validations", true));
  d.processing = CA_TRY(env->OpenTable("processing", true));
  // Once-only writes at open, while the other services open theirs on the same database: a
  // serialization conflict is rerun like any other write (kv::RetryOnConflict).
  CA_TRY_STATUS(kv::RetryOnConflict([&] { return BuildProcessingIndex(*env, d); }));
  d.order_expiry = CA_TRY(env->OpenTable("order_expiry", true));
  d.nonces = CA_TRY(env->OpenTable("nonces", true));
  CA_TRY_STATUS(
      kv::RetryOnConflict([&] { return BackfillExpiryIndex(*env, d.orders, d.order_expiry); }));
  return AcmeStore(std::move(env), d);
}

Status AcmeStore::BuildProcessingIndex(kv::Env& env, const Dbs& dbs) {
  auto txn = CA_TRY(kv::Txn::BeginWrite(env));
  if (CA_TRY(txn.Get(dbs.processing, kIndexBuilt))) return Ok();
  // Once, on a store from before the index: one pass over the orders and challenges.
  std::vector<std::string> keys;
  auto collect = [&](kv::Table dbi, char kind) -> Status {
    return txn.ForEach(dbi, "", [&](std::string_view key, std::string_view value) {
      auto j = json::parse(value, nullptr, false);
      if (j.is_object() && j.value("status", "") == "processing")
        keys.push_back(ProcessingKey(kind, std::string(key)));
      return true;
    });
  };
  CA_TRY_STATUS(collect(dbs.orders, 'o'));
  CA_TRY_STATUS(collect(dbs.challenges, 'c'));
  for (const auto& key : keys) CA_TRY_STATUS(txn.Put(dbs.processing, key, ""));
  CA_TRY_STATUS(txn.Put(dbs.processing, kIndexBuilt, ""));
  return txn.Commit();
}

AcmeStore::AcmeStore(std::unique_ptr<kv::Env> env, Dbs dbs)
    : env_(std::move(env)),
      dbs_(dbs),
      records_(std::make_shared<RecordCache>()),
      certs_(std::make_shared<RecordCache>(256)),
      committer_(std::make_unique<kv::GroupCommitter>(*env_)) {}

Result<StoreTxn> AcmeStore::Read() const {
  auto txn = CA_TRY(kv::Txn::BeginRead(*env_));
  return StoreTxn(std::move(txn), dbs_, records_.get(), certs_.get());
}

Status AcmeStore::Write(const WriteOp& op) const {
  if (NearlyFull()) {
    return Fail(ErrorCode::kResourceExhausted,
                "the gateway store is full: only its reserve is left (store_map_size_mb); "
                "retention frees space");
  }
  return WriteReserved(op);
}

Status AcmeStore::WriteReserved(const WriteOp& op) const {
  return committer_->Run([&](kv::Txn& txn) {
    StoreTxn store_txn(txn, dbs_, records_.get(), certs_.get());
    return op(store_txn);
  });
}

AcmeStore::CacheStats AcmeStore::record_cache_stats() const {
  auto stats = records_->stats();
  auto certs = certs_->stats();
  return {stats.hits + certs.hits, stats.misses + certs.misses};
}

void AcmeStore::RefreshUsage() const {
  auto usage = env_->GetUsage();
  // An unreadable fill level does not block writes: LMDB still refuses cleanly when really full.
  // map_bytes 0 (PostgreSQL) means no fixed ceiling: the gate never closes.
  bool ceiling = usage && usage->map_bytes != 0;
  size_t left =
      usage && usage->map_bytes > usage->used_bytes ? usage->map_bytes - usage->used_bytes : 0;
  size_t reserve = usage ? std::max(usage->map_bytes / 10, kMinReserveBytes) : 0;
  usage_gate_->near_reserve = ceiling && left < 2 * reserve;
  usage_gate_->nearly_full = ceiling && left < reserve;
  usage_gate_->checked_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count();
}

bool AcmeStore::NearlyFull() const {
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  if (usage_gate_->near_reserve.load() || ++usage_gate_->writes_since_check >= 64 ||
      now_ms - usage_gate_->checked_at_ms.load() >= 1000) {
    usage_gate_->writes_since_check = 0;
    RefreshUsage();
  }
  return usage_gate_->nearly_full.load();
}

template <class T>
Result<std::optional<T>> StoreTxn::GetJson(kv::Table dbi, const std::string& key) const {
  auto raw = CA_TRY(txn_->Get(dbi, key));
  if (!raw) return std::optional<T>();
  constexpr bool kCached = std::is_same_v<T, AccountRecord> || std::is_same_v<T, OrderRecord> ||
                           std::is_same_v<T, AuthzRecord> || std::is_same_v<T, ChallengeRecord> ||
                           std::is_same_v<T, CertRecord>;
  if constexpr (kCached) {
    if (auto hit = CacheOf<T>()->Find(dbi, key, *raw))
      return std::optional<T>(std::get<T>(std::move(*hit)));
  }
  Result<T> (*from)(const json&) = nullptr;
  const char* what = "";
  if constexpr (std::is_same_v<T, AccountRecord>) from = AccountFrom, what = "account";
  else if constexpr (std::is_same_v<T, OrderRecord>) from = OrderFrom, what = "order";
  else if constexpr (std::is_same_v<T, AuthzRecord>) from = AuthzFrom, what = "authorization";
  else if constexpr (std::is_same_v<T, ChallengeRecord>) from = ChallengeFrom, what = "challenge";
  else if constexpr (std::is_same_v<T, CertRecord>) from = CertFrom, what = "certificate";
  else from = JsonFrom, what = "account key";
  json record = CA_TRY(ParseRecord(*raw, what));
  auto value = CA_TRY(from(record));
  if constexpr (kCached) CacheOf<T>()->Put(dbi, key, *raw, value);
  return std::optional<T>(std::move(value));
}

Result<std::optional<AccountRecord>> StoreTxn::GetAccount(const std::string& id) const {
  return GetJson<AccountRecord>(dbs_.accounts, id);
}
Result<std::optional<json>> StoreTxn::GetAccountKey(const std::string& id) const {
  return GetJson<json>(dbs_.account_keys, id);
}
Result<std::optional<std::string>> StoreTxn::FindAccountByThumbprint(const std::string& tp) const {
  auto raw = CA_TRY(txn_->Get(dbs_.key_index, tp));
  if (!raw) return std::optional<std::string>();
  return std::optional<std::string>(std::string(*raw));
}
Result<size_t> StoreTxn::CountAccountsOfExternal(const std::string& kid) const {
  size_t n = 0;
  CA_TRY_STATUS(txn_->ForEach(dbs_.ext_accounts, kid + "/", [&](std::string_view, std::string_view) {
    ++n;
    return true;
  }));
  return n;
}
template <class T>
Status StoreTxn::PutRecord(kv::Table dbi, const std::string& key, const T& r, bool insert) {
  std::string text = RecordText(r);
  CA_TRY_STATUS(insert ? txn_->Insert(dbi, key, text) : txn_->Put(dbi, key, text));
  // Written through: the next read of these exact bytes needs no decoding. Should this
  // transaction not commit, the entry matches no stored bytes and is never used.
  CacheOf<T>()->Put(dbi, key, text, r);
  return Ok();
}

Status StoreTxn::CreateAccount(const AccountRecord& r, const json& jwk) {
  CA_TRY_STATUS(txn_->Insert(dbs_.key_index, r.jwk_thumbprint, r.id));
  CA_TRY_STATUS(PutRecord(dbs_.accounts, r.id, r, /*insert=*/true));
  CA_TRY_STATUS(txn_->Put(dbs_.account_keys, r.id, jwk.dump()));
  return txn_->Put(dbs_.ext_accounts, r.external_account_kid + "/" + r.id, "");
}
Status StoreTxn::PutAccount(const AccountRecord& r) { return PutRecord(dbs_.accounts, r.id, r); }
Status StoreTxn::ChangeAccountKey(AccountRecord r, const std::string& new_tp, const json& new_jwk) {
  CA_TRY_STATUS(txn_->Insert(dbs_.key_index, new_tp, r.id));
  CA_TRY(txn_->Delete(dbs_.key_index, r.jwk_thumbprint));
  r.jwk_thumbprint = new_tp;
  CA_TRY_STATUS(PutRecord(dbs_.accounts, r.id, r));
  return txn_->Put(dbs_.account_keys, r.id, new_jwk.dump());
}

Result<std::optional<OrderRecord>> StoreTxn::GetOrder(const std::string& id) const {
  return GetJson<OrderRecord>(dbs_.orders, id);
}
Status StoreTxn::SetProcessing(char kind, const std::string& id, bool processing) {
  if (processing) return txn_->Put(dbs_.processing, ProcessingKey(kind, id), "");
  CA_TRY(txn_->Delete(dbs_.processing, ProcessingKey(kind, id)));
  return Ok();
}
Result<std::vector<std::string>> StoreTxn::ProcessingIds(char kind) const {
  std::vector<std::string> ids;
  CA_TRY_STATUS(txn_->ForEach(dbs_.processing, std::string(1, kind) + "/",
                              [&](std::string_view key, std::string_view) {
                                ids.emplace_back(key.substr(2));
                                return true;
                              }));
  return ids;
}
Result<std::vector<std::string>> StoreTxn::ProcessingOrderIds() const { return ProcessingIds('o'); }
Result<std::vector<std::string>> StoreTxn::ProcessingChallengeIds() const { return ProcessingIds('c'); }

Status StoreTxn::PutOrder(const OrderRecord& r) {
  CA_TRY_STATUS(SetProcessing('o', r.id, r.status == OrderStatus::kProcessing));
  CA_TRY_STATUS(PutRecord(dbs_.orders, r.id, r));
  // The index entries usually exist already (an order is written 3-4 times): a put of the same
  // key would still copy and write its page at the commit.
  for (auto [dbi, key] : {std::pair{dbs_.order_expiry, ExpiryKey(r.expires, r.id)},
                          std::pair{dbs_.account_orders, AccountOrderKey(r)}}) {
    if (!CA_TRY(txn_->Get(dbi, key))) CA_TRY_STATUS(txn_->Put(dbi, key, ""));
  }
  return Ok();
}
Result<std::vector<std::string>> StoreTxn::ListOrderIds(const std::string& account_id) const {
  std::vector<std::string> ids;
  CA_TRY_STATUS(txn_->ForEach(dbs_.account_orders, account_id + "/", [&](std::string_view key, std::string_view) {
    ids.emplace_back(key.substr(key.rfind('/') + 1));
    return true;
  }));
  return ids;
}
Result<size_t> StoreTxn::CountOrdersSince(const std::string& account_id, int64_t since) const {
  size_t n = 0;
  std::string prefix = account_id + "/";
  std::string floor = prefix + Padded(since);
  CA_TRY_STATUS(txn_->ForEachFrom(dbs_.account_orders, prefix, floor, [&](std::string_view, std::string_view) {
    ++n;
    return true;
  }));
  return n;
}

Result<std::optional<AuthzRecord>> StoreTxn::GetAuthz(const std::string& id) const {
  return GetJson<AuthzRecord>(dbs_.authzs, id);
}
Status StoreTxn::PutAuthz(const AuthzRecord& r) { return PutRecord(dbs_.authzs, r.id, r); }
Result<std::optional<ChallengeRecord>> StoreTxn::GetChallenge(const std::string& id) const {
  return GetJson<ChallengeRecord>(dbs_.challenges, id);
}
Status StoreTxn::PutChallenge(const ChallengeRecord& r) {
  CA_TRY_STATUS(SetProcessing('c', r.id, r.status == ChallengeStatus::kProcessing));
  return PutRecord(dbs_.challenges, r.id, r);
}
Result<std::optional<CertRecord>> StoreTxn::GetCert(const std::string& serial) const {
  return GetJson<CertRecord>(dbs_.certs, serial);
}
Status StoreTxn::PutCert(const CertRecord& r) {
  return PutRecord(dbs_.certs, r.serial_hex, r);
}

Status StoreTxn::RecordFailedValidation(const std::string& account_id, const std::string& name, int64_t now) {
  std::string key = account_id + "|" + name + "|" + Padded(now) + "|" + HexEncode(RandomBytes(4));
  return txn_->Put(dbs_.failed_validations, key, "");
}

Result<std::pair<size_t, int64_t>> StoreTxn::CountFailedValidations(const std::string& account_id,
                                                                   const std::string& name, int64_t now,
                                                                   int64_t window) const {
  std::string prefix = account_id + "|" + name + "|";
  std::string floor = prefix + Padded(now - window + 1);
  size_t n = 0;
  int64_t oldest = 0;
  CA_TRY_STATUS(txn_->ForEachFrom(dbs_.failed_validations, prefix, floor,
                                   [&](std::string_view key, std::string_view) {
                                     if (n == 0) oldest = std::stoll(std::string(key.substr(prefix.size(), 16)));
                                     ++n;
                                     return true;
                                   }));
  return std::make_pair(n, oldest);
}

Result<size_t> StoreTxn::DeleteOrder(const std::string& id, PruneCounts& counts) {
  auto order = CA_TRY(GetOrder(id));
  if (!order) return 0;
  for (const auto& authz_id : order->authz_ids) {
    if (auto authz = CA_TRY(GetAuthz(authz_id))) {
      for (const auto& challenge_id : authz->challenge_ids) {
        CA_TRY_STATUS(SetProcessing('c', challenge_id, false));
        if (CA_TRY(txn_->Delete(dbs_.challenges, challenge_id))) ++counts.challenges;
      }
    }
    if (CA_TRY(txn_->Delete(dbs_.authzs, authz_id))) ++counts.authorizations;
  }
  CA_TRY_STATUS(SetProcessing('o', id, false));
  CA_TRY(txn_->Delete(dbs_.account_orders, AccountOrderKey(*order)));
  CA_TRY(txn_->Delete(dbs_.orders, id));
  ++counts.orders;
  return 1;
}

Result<std::vector<std::string>> StoreTxn::KeysBelow(kv::Table dbi, const std::string& end, size_t max,
                                                     bool& more) const {
  std::vector<std::string> keys;  // collected first: no deletion under a cursor
  CA_TRY_STATUS(txn_->ForEach(dbi, "", [&](std::string_view key, std::string_view) {
    if (key >= end) return false;
    if (keys.size() == max) {
      more = true;
      return false;
    }
    keys.emplace_back(key);
    return true;
  }));
  return keys;
}

Result<PruneCounts> StoreTxn::PruneExpired(int64_t order_cutoff, int64_t failure_cutoff,
                                           size_t max_orders) {
  PruneCounts counts;
  auto expired = CA_TRY(KeysBelow(dbs_.order_expiry, Padded(order_cutoff), max_orders, counts.more));
  for (const auto& key : expired) {
    std::string id = key.substr(key.find('/') + 1);
    auto order = CA_TRY(GetOrder(id));
    // An entry whose order now expires later (or is gone) is only a stale index entry.
    if (order && ExpiryKey(order->expires, id) == key) CA_TRY(DeleteOrder(id, counts));
    CA_TRY(txn_->Delete(dbs_.order_expiry, key));
  }
  // Failed validations: account|name|time|random, so old ones are found by reading the time.
  std::vector<std::string> stale;
  CA_TRY_STATUS(txn_->ForEach(dbs_.failed_validations, "", [&](std::string_view key, std::string_view) {
    size_t second_bar = key.find('|', key.find('|') + 1);
    if (second_bar != std::string_view::npos && key.substr(second_bar + 1, 16) < Padded(failure_cutoff)) {
      if (stale.size() == max_orders) {
        counts.more = true;
        return false;
      }
      stale.emplace_back(key);
    }
    return true;
  }));
  for (const auto& key : stale) {
    if (CA_TRY(txn_->Delete(dbs_.failed_validations, key))) ++counts.failed_validations;
  }
  return counts;
}

Status StoreTxn::RedeemNonce(std::string_view id, int64_t expires_at) {
  return txn_->Insert(dbs_.nonces, Padded(expires_at) + "/" + HexEncode(Bytes(id.begin(), id.end())), "");
}

Result<PruneCounts> StoreTxn::PruneRedeemedNonces(int64_t cutoff, size_t max) {
  PruneCounts counts;
  for (const auto& key : CA_TRY(KeysBelow(dbs_.nonces, Padded(cutoff), max, counts.more))) {
    if (CA_TRY(txn_->Delete(dbs_.nonces, key))) ++counts.nonces;
  }
  return counts;
}

}  // namespace ca::gateway
