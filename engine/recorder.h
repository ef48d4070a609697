// The engine's observer: audit entries (issuance, refusal, revocation, account-wide and mass
// revocation) appended to the hash-chained audit file, counters for the metrics, and each second
// the audit file's fdatasync and, every `metrics_interval` seconds, the metrics file.
//
// Durability of the audit file: one write(2) per entry on the request's thread (no fsync there:
// the engine issues hundreds of certificates a second), fdatasync once a second from the
// background thread. A crash of the engine loses nothing; a power loss may lose the last second of
// audit entries, while the CA store (LMDB, durable before each answer) keeps every certificate.
// A failed append is logged (audit_append_failed) and counted, never a refusal of the request.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/audit_log.h"
#include "engine/metrics.h"
#include "engine/observer.h"

namespace ca::engine {

struct RecorderOptions {
  std::string metrics_file;  // empty: no metrics file
  int metrics_interval_seconds = 5;
};

class Recorder : public EngineObserver {
 public:
  // `audit` may be null (no audit file configured); `metrics` must outlive the recorder.
  Recorder(std::unique_ptr<audit::AuditLog> audit, EngineMetrics& metrics, RecorderOptions options)
      : audit_(std::move(audit)), metrics_(metrics), options_(std::move(options)) {}

  void OnResponse(const engine::api::Request& request,
                  const engine::api::Response& response) override;
  void OnMassRevocations(engine::api::CaEnvironment env, CaInstance& instance,
                         uint64_t applied_before) override;
  void OnTick(
      const std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>>& instances) override;

  // Writes the metrics file now (also at start and at stop).
  void WriteMetrics(
      const std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>>& instances);

 private:
  void Audit(std::string_view event, const nlohmann::json& fields);

  std::unique_ptr<audit::AuditLog> audit_;
  EngineMetrics& metrics_;
  RecorderOptions options_;
  int ticks_ = 0;
};

}  // namespace ca::engine
