// One CA instance (production or staging, CA-8): its keys, its CA store, its status store and the
// issuance pipeline. Issue: policy re-check (CA-2) → CSR checks (CA-5) → TBS from the profile
// (CA-4) → lint → durable reservation of serial + TBS → HSM signature → durable record → OCSP
// "good" published → answer (CA-9).
#pragma once

#include <atomic>
#include <chrono>
#include <expected>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/openssl.h"
#include "crl_ocsp/freshness.h"
#include "crl_ocsp/status_store.h"
#include "engine/api/contract.h"
#include "engine/ca_store.h"
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

struct CaInstanceOptions {
  engine::api::CaEnvironment environment = engine::api::CaEnvironment::kProduction;
  std::string store_dir;         // CA store (LMDB)
  std::string status_store_dir;  // crl_ocsp status store (LMDB)
  std::string issuer_name;       // name of the issuer in the status store (/crl/<name>.crl)
  std::string profiles_dir;      // profiles/data/<environment>
  std::string ocsp_url, ca_issuers_url, crl_url;
  crl_ocsp::FreshnessPolicy freshness;
};

// The work is split by job: issuance.cpp (Issue, the pipeline and crash completion), revocation.cpp
// (Revoke, RevokeAll, mass revocations), status_jobs.cpp (OCSP and CRL signing and their schedule);
// ca_instance.cpp opens the instance and looks certificates up.
class CaInstance {
 public:
  // Checks the keys match their certificates, opens the stores, registers the issuer and
  // re-signs every reserved-but-unsigned certificate (crash recovery).
  static Result<std::unique_ptr<CaInstance>> Open(CaInstanceOptions options, CaKeys keys, CrashHook crash_hook);
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
  // Step (5): serial, TBS, request and indexes in one committed transaction. kAlreadyExists: serial
  // collision; kPermissionDenied: key already certified; kFailedPrecondition: request_id recorded.
  Status Reserve(const CertRecord& rec, const std::string& hash);
  // Signs the reservation (if still pending), records it, publishes OCSP; returns the record.
  // `lint_signed` (may be empty) checks the signed certificate before it is recorded.
  // `reserved_tbs`, when given, is the TBS object whose DER was just reserved (signed in place,
  // which saves parsing the recorded DER again); recovery passes nullptr.
  Result<CertRecord> Complete(const std::string& serial_hex,
                              const std::function<Status(const X509*)>& lint_signed,
                              X509* reserved_tbs = nullptr);
  Result<engine::api::IssueResponse> ToIssueResponse(const CertRecord& record) const;

  // revocation.cpp
  Result<std::vector<std::string>> RevokeSerials(const std::vector<std::string>& serials, int reason,
                                                 const std::string& actor, bool only_unexpired);

  // status_jobs.cpp
  Status PublishOcsp(const std::vector<CertRecord>& records);
  Status PublishCrl(pki::Time now);
  Status RunCrlJob();
  Status RunOcspJob();
  Status LoadCrlSchedule();
  // A revocation at `revoked_at` makes the CRL due (within crl_revocation_delay) until a CRL lists it.
  void NoteRevocation(int64_t revoked_at);
  void NoteRevocationLocked(pki::Time at);  // crl_mu_ held
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

  std::mutex crl_mu_;
  std::optional<pki::Time> crl_last_this_update_;
  std::optional<pki::Time> first_unpublished_revocation_;
  StatusJobState jobs_;
};

}  // namespace ca::engine
