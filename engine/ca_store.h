// The CA store of one CA instance (kv/kv.h: LMDB or PostgreSQL; durable once committed): every
// serial ever reserved, the to-be-signed certificate recorded before signing, the signed
// certificate, revocations, and the indexes that make issuance idempotent and keys single-use
// (CA-5, CA-7, CA-9).
//
// Named databases:
//   certs       serial_hex -> CertRecord JSON (state "reserved" then "issued")
//   pending     serial_hex -> ""            reserved but not yet recorded as signed
//   requests    request_id -> {"hash","serial"}   idempotent Issue
//   key_fps     hex SHA-256(SPKI) -> serial_hex    keys certified (or being certified)
//   by_account  "a\n<acme id>\n<serial>" / "e\n<kid>\n<serial>" -> ""
//   revoked     serial_hex -> ""
//   meta        "mass_revocation_seq" -> last applied seq; "mass_revocation:<seq>" -> JSON
//
// Writes go through a group committer (kv/group_commit.h): one thread batches the
// operations of many concurrent requests into one write transaction (one fsync for all of them).
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "kv/group_commit.h"
#include "kv/kv.h"

namespace ca::engine {

enum class CertState { kReserved, kIssued };

struct CertRecord {
  std::string serial_hex;
  CertState state = CertState::kReserved;
  std::vector<uint8_t> der;  // reserved: the unsigned certificate (TBS + algorithms); issued: signed
  std::string request_id;
  std::string order_id;
  std::string acme_account_id;
  std::string external_account_kid;
  std::string profile;
  std::vector<std::string> names;
  std::string key_fingerprint;  // hex SHA-256 of the subscriber SPKI
  int64_t not_before = 0;
  int64_t not_after = 0;
  int64_t reserved_at = 0;
  int64_t issued_at = 0;
  bool revoked = false;
  int64_t revoked_at = 0;
  int reason = 0;  // RFC 5280 CRLReason
  std::string revoked_by;
  // Revocation information the certificate carries (issue 19): the CRL shard named in its CRL
  // distribution point (nullopt: the full CRL's URL, or no CRLDP), and whether the engine keeps
  // an OCSP response for it (the profile's choice; false: no OCSP URL in its AIA). Absent in
  // records written before sharding: nullopt and true.
  std::optional<uint32_t> crl_shard;
  bool ocsp = true;
};

std::string CertRecordToJson(const CertRecord& record);
Result<CertRecord> CertRecordFromJson(std::string_view serial_hex, std::string_view text);

struct StoreDbs {
  kv::Table certs = 0, pending = 0, requests = 0, key_fps = 0, by_account = 0, revoked = 0,
            meta = 0;
};

// An operation of a group-committed write transaction (kv/group_commit.h): it may run
// twice (its batch abandoned because another operation failed), so it sets what it reports
// through its captures, never accumulates. It refuses (kAlreadyExists, kPermissionDenied,
// kFailedPrecondition, kNotFound) only before its first write: a refusal then goes back to its
// caller alone and the batch of the others commits (no rerun, no extra fsync).
using WriteOp = std::function<Status(kv::Txn& txn, const StoreDbs& dbs)>;

// A write queued with CaStore::Submit: Wait() returns what Write would have (once).
class PendingWrite {
 public:
  Status Wait();

 private:
  friend class CaStore;
  PendingWrite(std::future<Status> committed, std::shared_ptr<Status> refusal)
      : committed_(std::move(committed)), refusal_(std::move(refusal)) {}
  std::future<Status> committed_;
  std::shared_ptr<Status> refusal_;
};

class CaStore {
 public:
  static Result<std::unique_ptr<CaStore>> Open(const std::string& dir);

  const kv::Env& env() const { return env_; }
  const StoreDbs& dbs() const { return dbs_; }
  // Runs `op` in the next batch of the store's group committer; returns once that batch is
  // durably committed (the op's own error, the commit's, or success).
  Status Write(const WriteOp& op);
  // The same, queued: the caller overlaps the commit's fsync with other work, then waits. What
  // `op` captures must outlive Wait().
  PendingWrite Submit(WriteOp op);
  kv::GroupCommitter::Stats commit_stats() const { return committer_->stats(); }

  // Reads (each in its own read transaction).
  Result<std::optional<CertRecord>> FindCert(std::string_view serial_hex) const;
  // {hash, serial} of a recorded request id.
  Result<std::optional<std::pair<std::string, std::string>>> FindRequest(std::string_view request_id) const;
  Result<bool> KnownKey(std::string_view fingerprint_hex) const;
  Result<std::vector<std::string>> PendingSerials() const;
  // Serials issued under an ACME account ("a") or an external account ("e").
  Result<std::vector<std::string>> SerialsOf(char kind, std::string_view id) const;
  Result<std::vector<CertRecord>> RevokedCerts() const;
  // Visits every issued certificate record.
  Status ForEachIssued(const std::function<void(const CertRecord&)>& fn) const;
  Result<uint64_t> AppliedMassRevocationSeq() const;

 private:
  CaStore(kv::Env env, StoreDbs dbs) : env_(std::move(env)), dbs_(dbs) {}
  kv::Env env_;
  StoreDbs dbs_;
  std::unique_ptr<kv::GroupCommitter> committer_;
};

// Operations used inside write transactions.
Result<std::optional<CertRecord>> GetCert(const kv::Txn& txn, const StoreDbs& dbs,
                                          std::string_view serial_hex);
Status PutCert(kv::Txn& txn, const StoreDbs& dbs, const CertRecord& record);
std::string AccountIndexKey(char kind, std::string_view id, std::string_view serial_hex);

}  // namespace ca::engine
