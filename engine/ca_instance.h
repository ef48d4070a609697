// One CA instance (production or staging, CA-8): its keys, its CA store, its status store and the
// issuance pipeline. Issue: policy re-check (CA-2) → CSR checks (CA-5) → TBS from the profile
// (CA-4) → lint → durable reservation of serial + TBS → HSM signature → durable record → OCSP
// "good" published → answer (CA-9).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <expected>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "crl_ocsp/freshness.h"
#include "crl_ocsp/status_store.h"
#include "engine/api/contract.h"
#include "engine/ca_store.h"
#include "engine/crl_shards.h"
#include "engine/status_jobs.h"
#include "profiles/issuance/csr_check.h"
#include "profiles/issuance/profile.h"
#include "profiles/issuance/tbs.h"
#include "profiles/policy/decision.h"
#include "profiles/policy/store.h"

namespace ca::engine {

// The steps at which a test build may crash the engine (CA_ENGINE_CRASH_AT).
inline constexpr std::string_view kCrashSteps[] = {"after_reserve", "after_sign", "after_record",
                                                   "before_answer"};
using CrashHook = std::function<void(std::string_view step)>;

struct CaKeys {
  ossl::Pkey issuer_key;     // the intermediate's private key (HSM-backed EVP_PKEY)
  ossl::X509Ptr issuer_cert;
  std::string chain_pem;     // appended after the leaf: the intermediate (and any higher CA but the root)
  ossl::Pkey ocsp_key;       // delegated OCSP signer (HSM-backed EVP_PKEY)
  ossl::X509Ptr ocsp_cert;
};

class LeaseKeeper;  // engine/lease_keeper.h

// The audit trail of issuance (engine/recorder.h writes it to the audit file). Each call returns Ok
// only once its entry is durable; with no audit file configured every call is a no-op.
class IssuanceAudit {
 public:
  virtual ~IssuanceAudit() = default;
  // Before the HSM signs: the intent to sign `reservation` ("sign_intent"). A refusal here means
  // nothing is signed: the audit volume takes no writes.
  virtual Status SignIntent(engine::api::CaEnvironment env, const CertRecord& reservation, std::string_view by) = 0;
  // The one "issued" entry of a signed certificate (the caller makes it exactly one).
  virtual Status Issued(engine::api::CaEnvironment env, const CertRecord& record, std::string_view by) = 0;
  // A position in the audit file, and the serials of `env` with an "issued" entry from there on.
  virtual Result<int64_t> Position() = 0;
  virtual Result<std::set<std::string>> IssuedSince(engine::api::CaEnvironment env, int64_t position) = 0;
};

// Who completed a certificate (the "completed_by" of its issued entry).
inline constexpr std::string_view kByRequest = "request", kByRetry = "retry", kByRecovery = "recovery";

struct CaInstanceOptions {
  engine::api::CaEnvironment environment = engine::api::CaEnvironment::kProduction;
  std::string store_dir;         // CA store (LMDB)
  std::string status_store_dir;  // crl_ocsp status store (LMDB)
  std::string issuer_name;       // name of the issuer in the status store (/crl/<name>.crl)
  std::string profiles_dir;      // profiles/data/<environment>
  std::string ocsp_url, ca_issuers_url, crl_url;
  // CRL shards (crl_shards.h): each new certificate's CRLDP names shard k's URL, k in
  // [0, crl_shards); 0: the full CRL's URL. Changing it later leaves older certificates' shards
  // published until they expire.
  uint32_t crl_shards = 0;
  bool staging_grant_required = false;  // InstanceConfig's: Decide's AccountFacts at issuance
  crl_ocsp::FreshnessPolicy freshness;
  // Engine pair (issue 20): the keeper of this instance's lease (must outlive the instance). The
  // instance signs (certificate, CRL, OCSP) only while lease->Active(), checked right before each
  // signature; null: a single box, always active.
  const LeaseKeeper* lease = nullptr;
};

// The work is split by job: issuance.cpp (Issue, the pipeline and crash completion), revocation.cpp
// (Revoke, RevokeAll, mass revocations), status_jobs.cpp (OCSP and CRL signing and their schedule);
// ca_instance.cpp opens the instance and looks certificates up.
class CaInstance {
 public:
  // Checks the keys match their certificates, opens the stores, registers the issuer,
  // re-signs every reserved-but-unsigned certificate and audits every signed-but-unaudited one
  // (crash recovery; deferred to the background when the HSM or the audit volume is unavailable).
  // `audit` (may be null: no audit trail) must outlive the instance.
  static Result<std::unique_ptr<CaInstance>> Open(CaInstanceOptions options, CaKeys keys, CrashHook crash_hook,
                                                  IssuanceAudit* audit = nullptr);
  ~CaInstance();

  engine::api::Response Issue(const engine::api::IssueRequest& request, const profiles::policy::PolicySnapshot& snapshot);
  engine::api::Response Revoke(const engine::api::RevokeRequest& request);
  engine::api::Response RevokeAll(const engine::api::RevokeAllForAccountRequest& request);
  engine::api::Response GetCertificate(const engine::api::GetCertificateRequest& request);

  // Applies the policy store's mass revocations recorded after the last applied one.
  Status ApplyMassRevocations(const profiles::policy::PolicySnapshot& snapshot);
  // Re-signs every pending reservation (start-up recovery, and after an HSM fault).
  // Reservations younger than min_age_seconds are left to the request that made them.
  Status CompleteAllPending(int64_t min_age_seconds = 0);
  // One pass of the status jobs: OCSP responses near half-life or missing, and the CRL when due.
  // The two jobs are independent, each backing off after a failure (status_jobs.h).
  Status RunStatusJobs();
  // The status jobs' clocks (tests replace them) and backoff state.
  void SetStatusJobClock(JobClock clock) { jobs_.clock = std::move(clock); }
  const StatusJobState& status_jobs() const { return jobs_; }
  // Drops the audit markers of certificates whose issued entry is durable (background, each second).
  Status FlushAuditMarkers();
  // Engine pair: run by the engine each time this node's lease keeper becomes active (a takeover,
  // or the lease regained after its deadline lapsed). The same reconciliation as at start-up:
  // the CRL schedule re-read from the shared stores (the other node may have published), then
  // every pending reservation completed whatever its age (the old holder's included: its own
  // record write is fenced, so this node is the one that records it) and every unaudited one
  // audited.
  Status TakeOver();
  // The instance's lease keeper (null: single box).
  const LeaseKeeper* lease() const { return options_.lease; }

  CaStore& store() { return *store_; }
  crl_ocsp::StatusStore& status_store() { return *status_; }
  const X509* issuer_cert() const { return keys_.issuer_cert.get(); }
  const std::string& issuer_name() const { return options_.issuer_name; }

 private:
  CaInstance(CaInstanceOptions options, CaKeys keys, CrashHook hook)
      : options_(std::move(options)), keys_(std::move(keys)), crash_(std::move(hook)) {}

  // issuance.cpp
  struct IssueRefusal {
    engine::api::EngineErrorKind kind;
    std::string detail, result_code, name;
  };
  struct AdmittedIssue {
    const profiles::issuance::Profile* profile = nullptr;
    std::vector<std::string> names;  // lower case
    profiles::issuance::AcceptedCsr csr;
    profiles::policy::Organization org;
  };
  engine::api::Response IssueFresh(const engine::api::IssueRequest& request, const std::string& hash,
                                  const profiles::policy::PolicySnapshot& snapshot);
  // Steps (1) policy re-check and (2) CSR checks, and the organization named in the certificate.
  std::expected<AdmittedIssue, IssueRefusal> Admit(const engine::api::IssueRequest& request,
                                                   const profiles::policy::PolicySnapshot& snapshot, int64_t now);
  // Step (5): serial, TBS, request and indexes in one committed transaction (queued: the caller
  // waits). kAlreadyExists: serial collision; kPermissionDenied: key already certified;
  // kFailedPrecondition: request_id recorded. `rec` and `hash` must outlive the wait.
  PendingWrite SubmitReservation(const CertRecord& rec, const std::string& hash);
  // Withdraws a reservation that was never signed (its sign intent could not be written).
  Status CancelReservation(const CertRecord& rec);
  // Signs the reservation (if still pending) after its durable sign intent, records it, writes its
  // issued audit entry (once per serial), publishes OCSP; returns the record.
  // `lint_signed` (may be empty) checks the signed certificate before it is recorded.
  // `reserved_tbs`, when given, is the TBS object whose DER was just reserved (signed in place,
  // which saves parsing the recorded DER again); recovery passes nullptr. `by`: kByRequest (its
  // sign intent is already written), kByRetry or kByRecovery.
  Result<CertRecord> Complete(const std::string& serial_hex,
                              const std::function<Status(const X509*)>& lint_signed,
                              X509* reserved_tbs, std::string_view by);
  Result<engine::api::IssueResponse> ToIssueResponse(const CertRecord& record) const;

  // issuance_audit.cpp: exactly one durable "issued" entry per signed serial. The transaction that
  // records a certificate as issued also puts the marker "unaudited:<serial>" in the CA store's
  // meta (with the audit file position and this process's epoch); the entry is written and the
  // marker dropped after. A marker of another epoch (a crash) or of a failed attempt is checked
  // against the audit file from its position before anything is written.
  Status AuditSignIntent(const CertRecord& reservation, std::string_view by);
  // The marker {key, value} to put when `serial_hex` is recorded as issued now (empty key: no audit).
  Result<std::pair<std::string, std::string>> AuditMarker(std::string_view serial_hex);
  Status EnsureIssuedAudited(const CertRecord& record, std::string_view by);
  // Every marker left by a crash or a failed attempt (start-up and background recovery).
  Status AuditUnaudited();

  // revocation.cpp
  Result<std::vector<std::string>> RevokeSerials(const std::vector<std::string>& serials, int reason,
                                                 const std::string& actor, bool only_unexpired);

  // status_jobs.cpp
  Status PublishOcsp(const std::vector<CertRecord>& records);  // skips records without OCSP
  // The full CRL and the shards, from one read of the revoked records (RevokedCerts).
  Status PublishCrl(pki::Time now, const std::vector<CertRecord>& revoked);
  // Refuses (spending no number) when `now` is behind the thisUpdate of a published CRL.
  Status CheckCrlClock(pki::Time now);
  // CRL shards: re-signs each shard whose listing changed, that is missing, or past half of its
  // validity; returns when the next pass is due. A failed shard does not stop the others.
  bool ShardsEnabled() const { return options_.crl_shards > 0 || !legacy_shards_.empty(); }
  Result<pki::Time> PublishShards(pki::Time now, const std::vector<CertRecord>& revoked);
  Status PublishShard(uint32_t shard, const ShardContent& content, pki::Time now);
  Status RunCrlJob();
  Status RunOcspJob();
  Status LoadCrlSchedule();
  // A revocation at `revoked_at` makes the CRL due (within crl_revocation_delay) until a CRL lists it.
  void NoteRevocation(int64_t revoked_at);
  void NoteRevocationLocked(pki::Time at);  // crl_mu_ held
  // Right before every HSM signature: kUnavailable "engine standby: ..." unless this node holds
  // the lease and its local deadline has not passed (ca_instance.cpp).
  Status CheckSigningLease() const;
  void Crash(std::string_view step) const {
    if (crash_) crash_(step);
  }

  CaInstanceOptions options_;
  CaKeys keys_;
  CrashHook crash_;
  std::unique_ptr<CaStore> store_;
  std::unique_ptr<crl_ocsp::StatusStore> status_;
  std::map<profiles::issuance::ProfileId, profiles::issuance::Profile> profiles_;
  profiles::issuance::Issuer issuer_;

  // Requests in flight by request_id: a concurrent duplicate waits for the first.
  std::mutex inflight_mu_;
  std::map<std::string, std::pair<std::string, std::shared_future<engine::api::Response>>> inflight_;

  IssuanceAudit* audit_ = nullptr;
  std::string audit_epoch_;  // random per process: a marker of another epoch was left by a crash
  std::mutex audit_mu_;
  std::condition_variable audit_cv_;
  std::set<std::string> auditing_;  // serials whose issued entry a thread is writing
  std::set<std::string> audited_;   // issued entry durable, marker not yet dropped
  std::set<std::string> suspect_;   // an attempt failed: check the file before writing

  std::mutex crl_mu_;
  std::optional<pki::Time> crl_last_this_update_;
  std::optional<pki::Time> first_unpublished_revocation_;
  // Counts NoteRevocation calls: a CRL job clears first_unpublished_revocation_ only if none came
  // after it read the revocations (a revocation is dated before it commits, so its date alone
  // cannot tell whether the read saw it).
  uint64_t revocations_noted_ = 0;
  std::optional<pki::Time> crl_newest_this_update_;  // of every scope (full CRL and shards)
  // Shards at or above crl_shards still named by unexpired certificates -> their latest notAfter
  // (read at Open; new certificates only go below crl_shards).
  std::map<uint32_t, pki::Time> legacy_shards_;
  // Per published shard: the stored CRL's SHA-256 and the digest of its entries (engine thread).
  std::map<uint32_t, std::pair<std::array<uint8_t, 32>, std::array<uint8_t, 32>>> shard_digests_;
  StatusJobState jobs_;
};

}  // namespace ca::engine
