#include "engine/recorder.h"

#include <chrono>
#include <string>

#include "common/lmdb.h"
#include "common/log.h"
#include "crl_ocsp/revocation.h"
#include "pki/revocation_reason.h"
#include "crl_ocsp/status_store.h"
#include "engine/ca_instance.h"

namespace ca::engine {
namespace {

using engine::api::EngineError;
using nlohmann::json;

std::string ReasonName(int code) {
  auto reason = pki::ReasonFromCode(code);
  return reason ? std::string(pki::ReasonName(*reason)) : "code_" + std::to_string(code);
}

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Recorder::Audit(std::string_view event, const json& fields) {
  if (!audit_) return;
  auto appended = audit_->Append(event, fields);
  metrics_.CountAudit(appended.has_value());
  if (!appended)
    log::Error("audit_append_failed",
               {{"audit_event", event}, {"error", appended.error().ToString()}});
}

void Recorder::OnResponse(const engine::api::Request& request,
                          const engine::api::Response& response) {
  const auto* error = std::get_if<EngineError>(&response);
  auto with_error = [&](json fields) {
    if (error != nullptr) {
      fields["result"] = engine::api::EngineErrorKindName(error->kind);
      fields["result_code"] = error->result_code;
      fields["name"] = error->name;
      fields["detail"] = error->detail;
    }
    return fields;
  };
  if (const auto* issue = std::get_if<engine::api::IssueRequest>(&request)) {
    json fields = {{"environment", engine::api::CaEnvironmentName(issue->environment)},
                   {"request_id", issue->request_id},
                   {"order", issue->order_id},
                   {"account", issue->acme_account_id},
                   {"external_account", issue->external_account_kid},
                   {"profile", issue->profile},
                   {"names", issue->names},
                   {"gateway_policy_version", issue->policy_version}};
    if (const auto* issued = std::get_if<engine::api::IssueResponse>(&response)) {
      metrics_.CountIssue(issue->profile, "issued");
      fields["serial"] = issued->serial_hex;
      fields["not_after"] = issued->not_after;
      fields["result"] = "issued";
      fields["result_code"] = "OK";
      Audit("issued", fields);
    } else if (error != nullptr) {
      metrics_.CountIssue(issue->profile, engine::api::EngineErrorKindName(error->kind));
      Audit("issue_refused", with_error(std::move(fields)));
    }
    return;
  }
  if (const auto* revoke = std::get_if<engine::api::RevokeRequest>(&request)) {
    int reason = static_cast<int>(revoke->reason);
    json fields = {{"environment", engine::api::CaEnvironmentName(revoke->environment)},
                   {"serial", revoke->serial_hex},
                   {"reason", reason},
                   {"reason_name", ReasonName(reason)},
                   {"actor", revoke->actor}};
    if (const auto* done = std::get_if<engine::api::RevokeResponse>(&response)) {
      if (done->newly_revoked) metrics_.CountRevoked(reason, 1);
      fields["newly_revoked"] = done->newly_revoked;
      fields["revoked_at"] = done->revoked_at;
      fields["result"] = "revoked";
      Audit("revoked", fields);
    } else if (error != nullptr) {
      metrics_.CountRevokeRefused();
      Audit("revoke_refused", with_error(std::move(fields)));
    }
    return;
  }
  if (const auto* all = std::get_if<engine::api::RevokeAllForAccountRequest>(&request)) {
    int reason = static_cast<int>(all->reason);
    json fields = {{"environment", engine::api::CaEnvironmentName(all->environment)},
                   {"account", all->acme_account_id},
                   {"external_account", all->external_account_kid},
                   {"reason", reason},
                   {"reason_name", ReasonName(reason)},
                   {"actor", all->actor}};
    if (const auto* done = std::get_if<engine::api::RevokeAllForAccountResponse>(&response)) {
      metrics_.CountRevoked(reason, done->revoked_count);
      fields["revoked_count"] = done->revoked_count;
      fields["result"] = "revoked";
      Audit("revoked_all_for_account", fields);
    } else if (error != nullptr) {
      metrics_.CountRevokeRefused();
      Audit("revoke_all_refused", with_error(std::move(fields)));
    }
  }
}

void Recorder::OnMassRevocations(engine::api::CaEnvironment env, CaInstance& instance,
                                 uint64_t applied_before) {
  // The CA store records each applied mass revocation ("mass_revocation:<seq>", engine/ca_store.h)
  // with the serials it revoked: the audit entry is that record.
  auto applied = instance.store().AppliedMassRevocationSeq();
  if (!applied || *applied <= applied_before) return;
  auto txn = lmdb::Txn::BeginRead(instance.store().env());
  if (!txn) {
    log::Error("audit_append_failed",
               {{"audit_event", "mass_revocation_applied"}, {"error", txn.error().ToString()}});
    return;
  }
  for (uint64_t seq = applied_before + 1; seq <= *applied; ++seq) {
    auto value = txn->Get(instance.store().dbs().meta, "mass_revocation:" + std::to_string(seq));
    json record = value && *value ? json::parse(**value, nullptr, false) : json();
    if (!record.is_object()) {
      log::Error("audit_append_failed",
                 {{"audit_event", "mass_revocation_applied"}, {"mass_revocation_seq", seq}});
      continue;
    }
    json fields = {{"environment", engine::api::CaEnvironmentName(env)},
                   {"mass_revocation_seq", seq}};
    for (const char* key : {"acme_account_id", "external_account_kid", "reason", "actor",
                            "policy_version", "applied_at", "revoked"}) {
      if (record.contains(key)) fields[key] = record[key];
    }
    int reason = record.value("reason", 0);
    fields["reason_name"] = ReasonName(reason);
    uint64_t count =
        record.contains("revoked") && record["revoked"].is_array() ? record["revoked"].size() : 0;
    fields["revoked_count"] = count;
    metrics_.CountRevoked(reason, count);
    Audit("mass_revocation_applied", fields);
  }
}

void Recorder::OnTick(
    const std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>>& instances) {
  if (audit_) {
    if (auto s = audit_->Sync(); !s)
      log::Error("audit_sync_failed", {{"error", s.error().ToString()}});
  }
  if (++ticks_ >= options_.metrics_interval_seconds) {
    ticks_ = 0;
    WriteMetrics(instances);
  }
}

void Recorder::WriteMetrics(
    const std::map<engine::api::CaEnvironment, std::unique_ptr<CaInstance>>& instances) {
  if (options_.metrics_file.empty()) return;
  std::vector<CrlGauge> crls;
  for (const auto& [env, inst] : instances) {
    auto txn = lmdb::Txn::BeginRead(inst->status_store().env());
    if (!txn) continue;
    auto crl = crl_ocsp::FindCrl(txn->get(), inst->status_store().dbs(), inst->issuer_name());
    if (!crl || !*crl) continue;
    const auto& info = (*crl)->info;
    crls.push_back(CrlGauge{
        std::string(engine::api::CaEnvironmentName(env)), inst->issuer_name(), info.number,
        std::chrono::duration_cast<std::chrono::seconds>(info.this_update.time_since_epoch())
            .count(),
        std::chrono::duration_cast<std::chrono::seconds>(info.next_update.time_since_epoch())
            .count(),
        info.entries});
  }
  if (auto s = EngineMetrics::WriteFile(options_.metrics_file, metrics_.Render(crls, NowUnix()));
      !s) {
    log::Warn("metrics_write_failed", {{"error", s.error().ToString()}});
  }
}

}  // namespace ca::engine
