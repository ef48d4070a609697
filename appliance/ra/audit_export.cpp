#include "appliance/ra/audit_export.h"

#include "common/audit_log.h"

namespace ca::appliance::ra {
namespace {

// The policy audit records above the last one the file holds, as audit entries.
Result<std::vector<audit::AuditEvent>> NotYetExported(const profiles::policy::PolicyStore& store,
                                                      const nlohmann::json& last) {
  uint64_t exported = 0;
  if (last.is_object() && last.contains("policy_audit_seq") &&
      last["policy_audit_seq"].is_number_unsigned()) {
    exported = last["policy_audit_seq"].get<uint64_t>();
  }
  auto snapshot = CA_TRY(store.Snapshot());
  std::vector<audit::AuditEvent> events;
  for (const auto& record : snapshot.Audit()) {
    if (record.seq <= exported) continue;
    nlohmann::json fields = profiles::policy::ToJson(record);
    // The record's own seq and time, renamed: "seq" and "ts" are the audit file's.
    fields.erase("seq");
    fields.erase("time");
    fields["policy_audit_seq"] = record.seq;
    fields["policy_time"] = record.time;
    events.push_back({"policy_change", std::move(fields)});
  }
  return events;
}

}  // namespace

Result<size_t> ExportPolicyAudit(const profiles::policy::PolicyStore& store, const std::string& audit_path) {
  auto log = CA_TRY(audit::AuditLog::Open(audit_path, "ca-ra"));
  size_t appended = CA_TRY(
      log->AppendBatch([&](const nlohmann::json& last) { return NotYetExported(store, last); }));
  CA_TRY_STATUS(log->Sync());
  return appended;
}

}  // namespace ca::appliance::ra
