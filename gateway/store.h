// The gateway's own store (kv/kv.h: LMDB or PostgreSQL): ACME accounts (value format fixed in
// docs/ARCHITECTURE.md, read by the RA CLI), account keys and the key index, orders,
// authorizations, challenges, the certificate index, failed-validation counters and the index of
// orders and challenges in `processing` (what a restarted gateway resumes). Every state change
// happens in one write operation, so the store's transactions (serializable, conflicts rerun) make
// transitions such as order pending→processing atomic. Write operations go through a group
// committer (kv/group_commit.h): concurrent requests share one durable commit, and each request
// answers only after its own writes are committed.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/result.h"
#include "gateway/acme_status.h"
#include "kv/group_commit.h"
#include "kv/kv.h"

namespace ca::gateway {

struct AccountRecord {
  std::string id;
  std::string external_account_kid;
  std::string profile;  // a profiles::policy::ProfileName ("SSL", "SSL_SHORT", ...)
  AccountStatus status = AccountStatus::kValid;
  int64_t created_at = 0;  // unix seconds
  std::vector<std::string> contact;
  std::string jwk_thumbprint;  // RFC 7638, base64url
};

struct OrderRecord {
  std::string id;
  std::string account_id;
  std::string external_account_kid;
  OrderStatus status = OrderStatus::kPending;
  int64_t created_at = 0;
  int64_t expires = 0;
  std::vector<std::string> names;  // dns identifiers as requested ("*.example.com" for wildcards)
  std::vector<std::string> authz_ids;
  std::string profile;
  nlohmann::json error;    // problem document when invalid, else null
  std::string serial_hex;  // certificate, once valid
  std::string request_id;  // engine IssueRequest id (stable across retries)
  // While processing: the CSR sent to the engine (base64url DER) and the policy version decided
  // on, so that a restarted gateway can ask the engine again for this order's certificate.
  std::string finalize_csr;
  uint64_t policy_version = 0;
};

struct AuthzRecord {
  std::string id;
  std::string account_id;
  std::string order_id;
  std::string name;  // the identifier value, without "*." for wildcards
  bool wildcard = false;
  AuthzStatus status = AuthzStatus::kPending;
  int64_t expires = 0;
  std::vector<std::string> challenge_ids;
  int64_t validated_at = 0;
  int64_t caa_checked_at = 0;
};

struct ChallengeRecord {
  std::string id;
  std::string authz_id;
  std::string account_id;
  std::string type;    // http-01, dns-01, tls-alpn-01
  std::string token;
  ChallengeStatus status = ChallengeStatus::kPending;
  int64_t validated_at = 0;
  nlohmann::json error;  // problem document or null
  int attempts = 0;
};

struct CertRecord {
  std::string serial_hex;
  std::string account_id;
  std::string external_account_kid;
  std::string order_id;
  std::string chain_pem;
  int64_t not_before = 0;
  int64_t not_after = 0;
  // No revocation state here: the engine's CA store is its only source (GetCertificateRequest).
  // Records written before that change carry "revoked"/"reason" fields; they are ignored.
};

nlohmann::json ToJson(const AccountRecord& r);
nlohmann::json ToJson(const OrderRecord& r);
nlohmann::json ToJson(const AuthzRecord& r);
nlohmann::json ToJson(const ChallengeRecord& r);
nlohmann::json ToJson(const CertRecord& r);

class StoreTxn;
class RecordCache;

struct StoreOptions {
  size_t map_size = size_t{1} << 32;  // LMDB map (address space; the file grows as needed)
};

// What one pruning pass deleted (gateway/retention.h runs the passes).
struct PruneCounts {
  size_t orders = 0, authorizations = 0, challenges = 0, failed_validations = 0, nonces = 0;
  bool more = false;  // the batch limit stopped the pass: run again
};

class AcmeStore {
 public:
  static Result<AcmeStore> Open(const std::string& dir, const StoreOptions& options = {});

  Result<StoreTxn> Read() const;
  // Runs `op` in a write transaction shared with concurrent writers and returns once it is durably
  // committed (see kv::GroupCommitter: `op` may run more than once, so it sets, never
  // accumulates, what it reports through its captures; an error it returns discards its writes
  // only, and is returned here).
  using WriteOp = std::function<Status(StoreTxn& txn)>;
  // Refused with kResourceExhausted, nothing written, once less than the reserve is left: LMDB
  // needs free pages even to delete, so the last 10 % of the map (at least kMinReserveBytes) is
  // kept for retention (WriteReserved).
  Status Write(const WriteOp& op) const;
  // A write transaction copies a few pages of every tree it touches, and the pages the previous
  // transaction freed are not reusable yet: 10 % of a small map (26 pages of 1 MiB) is less than
  // one deletion takes (tests/faults/store_full.py: MDB_MAP_FULL at 89.8 %, retention wedged).
  static constexpr size_t kMinReserveBytes = size_t{256} << 10;
  // For retention's deletions only: may use the reserve.
  Status WriteReserved(const WriteOp& op) const;
  // Re-reads the fill level now (retention calls it after freeing pages); Write re-reads it once
  // a second or every 64 writes, and on every write once less than twice the reserve is left.
  void RefreshUsage() const;

  const kv::Env& env() const { return *env_; }
  kv::GroupCommitter::Stats commit_stats() const { return committer_->stats(); }
  struct CacheStats {
    uint64_t hits = 0, misses = 0;  // decoded-record cache lookups (gateway/record_cache.h)
  };
  CacheStats record_cache_stats() const;

 private:
  friend class StoreTxn;
  struct Dbs {
    kv::Table accounts, account_keys, key_index, ext_accounts, orders, account_orders, authzs,
        challenges, certs, failed_validations, processing, order_expiry, nonces;
  };
  // Indexes the processing orders and challenges of a store written before that index existed.
  static Status BuildProcessingIndex(kv::Env& env, const Dbs& dbs);
  AcmeStore(std::unique_ptr<kv::Env> env, Dbs dbs);
  std::unique_ptr<kv::Env> env_;  // stable address for the committer
  Dbs dbs_;
  std::shared_ptr<RecordCache> records_;  // decoded records (gateway/record_cache.h)
  // Certificate records (~4 KB each, read once on download right after they are written): a
  // smaller cache of their own.
  std::shared_ptr<RecordCache> certs_;
  std::unique_ptr<kv::GroupCommitter> committer_;
  // The fill level as last read (kv::Env::GetUsage walks the free list: not on every write).
  struct UsageGate {
    std::atomic<bool> nearly_full{false};
    std::atomic<bool> near_reserve{false};  // less than twice the reserve left
    std::atomic<int64_t> checked_at_ms{0};
    std::atomic<uint32_t> writes_since_check{0};
  };
  std::unique_ptr<UsageGate> usage_gate_ = std::make_unique<UsageGate>();
  bool NearlyFull() const;
};

// Typed access inside one LMDB transaction. Get* return nullopt when absent.
class StoreTxn {
 public:
  Result<std::optional<AccountRecord>> GetAccount(const std::string& id) const;
  Result<std::optional<nlohmann::json>> GetAccountKey(const std::string& id) const;
  Result<std::optional<std::string>> FindAccountByThumbprint(const std::string& thumbprint) const;
  Result<size_t> CountAccountsOfExternal(const std::string& kid) const;
  // Inserts the account, its key and its index entries; kAlreadyExists if the key is bound.
  Status CreateAccount(const AccountRecord& r, const nlohmann::json& jwk);
  Status PutAccount(const AccountRecord& r);
  // Rebinds the account to a new key; kAlreadyExists if the new key is bound to any account.
  Status ChangeAccountKey(AccountRecord r, const std::string& new_thumbprint, const nlohmann::json& new_jwk);

  Result<std::optional<OrderRecord>> GetOrder(const std::string& id) const;
  Status PutOrder(const OrderRecord& r);  // also indexes it under its account, its expiry (and if processing)
  Result<std::vector<std::string>> ListOrderIds(const std::string& account_id) const;
  // A range scan of the account's index from `since`: its cost is the count, not the history.
  Result<size_t> CountOrdersSince(const std::string& account_id, int64_t since) const;

  Result<std::optional<AuthzRecord>> GetAuthz(const std::string& id) const;
  Status PutAuthz(const AuthzRecord& r);
  Result<std::optional<ChallengeRecord>> GetChallenge(const std::string& id) const;
  Status PutChallenge(const ChallengeRecord& r);  // also indexes it while processing

  // Ids of the orders / challenges whose status is `processing` (an index: no scan of the rest).
  Result<std::vector<std::string>> ProcessingOrderIds() const;
  Result<std::vector<std::string>> ProcessingChallengeIds() const;

  Result<std::optional<CertRecord>> GetCert(const std::string& serial_hex) const;
  Status PutCert(const CertRecord& r);

  Status RecordFailedValidation(const std::string& account_id, const std::string& name, int64_t now);
  // Failures in (now - window, now]; also the oldest of them (for Retry-After), 0 if none.
  Result<std::pair<size_t, int64_t>> CountFailedValidations(const std::string& account_id,
                                                           const std::string& name, int64_t now,
                                                           int64_t window) const;

  // Shared nonces (gateway/nonce.h): records the redemption of nonce `id` (its signed bytes) until
  // `expires_at`; kAlreadyExists if it was redeemed before, by any gateway on this store. Keyed by
  // expiry first, so pruning reads only what it deletes.
  Status RedeemNonce(std::string_view id, int64_t expires_at);
  // Deletes up to `max` redemptions whose nonce expired before `cutoff`.
  Result<PruneCounts> PruneRedeemedNonces(int64_t cutoff, size_t max);

  // Retention: deletes up to `max_orders` orders that expired before `order_cutoff` (with their
  // authorizations, challenges and index entries) and up to as many failed-validation records
  // older than `failure_cutoff`. Certificates are kept (the RA and clients still read them).
  Result<PruneCounts> PruneExpired(int64_t order_cutoff, int64_t failure_cutoff, size_t max_orders);

  StoreTxn(StoreTxn&& other) noexcept
      : owned_(std::move(other.owned_)),
        txn_(owned_ ? &*owned_ : other.txn_),
        dbs_(other.dbs_),
        records_(other.records_),
        certs_(other.certs_) {}
  StoreTxn& operator=(StoreTxn&&) = delete;

 private:
  friend class AcmeStore;
  StoreTxn(kv::Txn&& txn, const AcmeStore::Dbs& dbs, RecordCache* records, RecordCache* certs)
      : owned_(std::move(txn)), txn_(&*owned_), dbs_(dbs), records_(records), certs_(certs) {}
  StoreTxn(kv::Txn& txn, const AcmeStore::Dbs& dbs, RecordCache* records,
           RecordCache* certs)  // the committer's
      : txn_(&txn), dbs_(dbs), records_(records), certs_(certs) {}
  template <class T>
  Result<std::optional<T>> GetJson(kv::Table dbi, const std::string& key) const;
  // Writes a cached record type (account, order, authorization, challenge, certificate) as JSON
  // (gateway/record_text.h), through its cache.
  template <class T>
  Status PutRecord(kv::Table dbi, const std::string& key, const T& r, bool insert = false);
  template <class T>
  RecordCache* CacheOf() const {
    return std::is_same_v<T, CertRecord> ? certs_ : records_;
  }
  Status SetProcessing(char kind, const std::string& id, bool processing);
  Result<std::vector<std::string>> ProcessingIds(char kind) const;
  Result<size_t> DeleteOrder(const std::string& id, PruneCounts& counts);
  // Up to `max` keys of a time-keyed table below `end`, in order; `more` set if `max` stopped it.
  Result<std::vector<std::string>> KeysBelow(kv::Table table, const std::string& end, size_t max,
                                             bool& more) const;
  std::optional<kv::Txn> owned_;  // read transactions
  kv::Txn* txn_;
  AcmeStore::Dbs dbs_;
  RecordCache* records_;
  RecordCache* certs_;
};

}  // namespace ca::gateway
