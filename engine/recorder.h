// The engine's observer and the audit trail of issuance: audit entries (sign intent, issuance,
// refusal, revocation, account-wide and mass revocation) appended to the hash-chained audit file,
// counters for the metrics, and each second the audit file's fdatasync and, every
// `metrics_interval` seconds, the metrics file.
//
// Fail closed: the entries that acknowledge something (sign_intent and issued, written by the
// issuance pipeline through IssuanceAudit; revoked, revoked_all_for_account) are durable
// (group-committed fdatasync) before the answer goes out. When one cannot be written (audit volume
// full) the answer is an EngineError kUnavailable (the gateway: ACME serverInternal, 503,
// "ACME_CA_ERROR: audit trail unavailable ..."), and issuance signs nothing. Refusals are appended
// without waiting for the fdatasync (synced each second).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/audit_log.h"
#include "engine/ca_instance.h"
#include "engine/metrics.h"
#include "engine/observer.h"
#include "engine/replication_watch.h"

namespace ca::engine {

struct RecorderOptions {
  std::string metrics_file;  // empty: no metrics file
  int metrics_interval_seconds = 5;
};

class Recorder : public EngineObserver, public IssuanceAudit {
 public:
  // `audit` may be null (no audit file configured); `metrics` must outlive the recorder.
  Recorder(std::unique_ptr<audit::AuditLog> audit, EngineMetrics& metrics, RecorderOptions options)
      : audit_(std::move(audit)), metrics_(metrics), options_(std::move(options)) {}

  engine::api::Response OnResponse(const engine::api::Request& request,
                                   engine::api::Response response) override;
  Status OnMassRevocations(engine::api::CaEnvironment env, CaInstance& instance,
                           uint64_t applied_before) override;
  void OnTick(
      const std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>>& instances) override;

  // IssuanceAudit (engine/ca_instance.h).
  Status SignIntent(engine::api::CaEnvironment env, const CertRecord& reservation,
                    std::string_view by) override;
  Status Issued(engine::api::CaEnvironment env, const CertRecord& record,
                std::string_view by) override;
  Result<int64_t> Position() override;
  Result<std::set<std::string>> IssuedSince(engine::api::CaEnvironment env,
                                            int64_t position) override;

  // An engine pair's database watch for `env` (outlives the recorder's writes), shown in the HA
  // gauges.
  void SetReplicationWatch(engine::api::CaEnvironment env, const ReplicationWatch* watch) {
    replication_[env] = watch;
  }

  // Writes the metrics file now (also at start and at stop).
  void WriteMetrics(
      const std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>>& instances);

 private:
  // Appends (durable: waits for the fdatasync); failures are logged, counted and returned.
  Status Audit(std::string_view event, const nlohmann::json& fields, bool durable);

  std::unique_ptr<audit::AuditLog> audit_;
  EngineMetrics& metrics_;
  RecorderOptions options_;
  int ticks_ = 0;
  std::map<engine::api::CaEnvironment, const ReplicationWatch*> replication_;
};

}  // namespace ca::engine
